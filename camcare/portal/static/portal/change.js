// The change form's running total: each option's price for the picked cycle, the price of
// the plans picked and the next bill, as the owner picks. The server renders the same
// figures for the plans first shown, so the form reads the same without this script, and
// the preview (next page) is what counts.
(function () {
  "use strict";

  var form = document.querySelector("form[data-change-form]");
  if (!form) return;
  var plans = JSON.parse(form.dataset.plans);
  // Display only: the amounts are integer cents; Intl needs the unit amount to format it.
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: form.dataset.currency || "USD" });
  var per = { monthly: "a month", annual: "a year" };

  function checkedValue(selector) {
    var input = form.querySelector(selector + ":checked");
    return input ? input.value : null;
  }

  // One line per camera on a per-camera plan, one line per account-wide plan in use
  // (POLICY.md section 2), as camcare.domain.pricing.lines_of counts them.
  function priceOf(codes, cycle) {
    var cents = 0, counts = {}, over = [];
    codes.forEach(function (code) {
      var plan = plans[code];
      if (!plan) return;
      if (plan.scope === "account") counts[code] = (counts[code] || 0) + 1;
      else cents += plan[cycle];
    });
    Object.keys(counts).forEach(function (code) {
      cents += plans[code][cycle];
      if (plans[code].max !== null && counts[code] > plans[code].max) over.push(plans[code]);
    });
    return { cents: cents, over: over };
  }

  function show(selector, text) {
    var element = form.querySelector(selector);
    if (element && element.textContent !== text) element.textContent = text;
  }

  function update() {
    var cycle = checkedValue("input[name=cycle]") === "annual" ? "annual" : "monthly";
    var codes = [];
    form.querySelectorAll("input[type=radio][name^=camera_]:checked").forEach(function (input) {
      codes.push(input.value);
    });
    form.querySelectorAll("[data-price-monthly]").forEach(function (element) {
      var text = cycle === "annual" ? element.dataset.priceAnnual : element.dataset.priceMonthly;
      if (element.textContent !== text) element.textContent = text;
    });
    var sum = priceOf(codes, cycle);
    var trial = form.querySelector("input[name=trial]");
    var next = trial && trial.checked ? form.dataset.nextTrial
      : cycle === "annual" ? form.dataset.nextAnnual : form.dataset.nextMonthly;
    show("[data-total]", money.format(sum.cents / 100) + " " + per[cycle]);
    show("[data-next-bill]", sum.cents ? money.format(sum.cents / 100) + " on " + next : "none: every camera on Free");
    var warning = form.querySelector("[data-total-warning]");
    if (warning) {
      warning.hidden = sum.over.length === 0;
      warning.textContent = sum.over.map(function (plan) {
        return plan.name + " covers up to " + plan.max + " cameras: put the others on another plan.";
      }).join(" ");
    }
  }

  form.addEventListener("change", update);
  // A page restored by the back button keeps the picked options: show their figures.
  window.addEventListener("pageshow", update);
  update();
})();
