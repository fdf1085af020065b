// camcare portal: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  // A billing form sends once: the server replays a second submit anyway (its
  // idempotency key), this just spares the second request and says it is working.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-once]")) return;
    if (form.dataset.sent === "1") { event.preventDefault(); return; }
    form.dataset.sent = "1";
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      });
    }, 0);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) { window.print(); }
  });

  // Card number: group digits by four as they are typed (the server ignores spaces).
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches("input[autocomplete=cc-number]")) return;
    var digits = input.value.replace(/\D/g, "").slice(0, 19);
    var grouped = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
    if (grouped !== input.value) input.value = grouped;
  });
})();
