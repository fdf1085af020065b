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
    var copy = event.target.closest("[data-copy]");
    if (copy) { copyFrom(copy); }
  });

  // The device token's "Copy" button: shown only where the clipboard can be written.
  function copyFrom(button) {
    var input = document.getElementById(button.dataset.copy);
    var said = button.parentElement.querySelector("[data-copied]");
    navigator.clipboard.writeText(input.value).then(function () {
      if (said) said.textContent = "Copied. Paste it into the camera's settings.";
    }, function () {
      input.select();
      if (said) said.textContent = "Select the token and copy it by hand.";
    });
  }
  if (navigator.clipboard && window.isSecureContext) {
    document.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
  }

  // Card number: group digits by four as they are typed (the server ignores spaces).
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches("input[autocomplete=cc-number]")) return;
    var digits = input.value.replace(/\D/g, "").slice(0, 19);
    var grouped = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
    if (grouped !== input.value) input.value = grouped;
  });
})();
