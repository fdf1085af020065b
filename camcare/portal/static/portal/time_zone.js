// camcare sign-up: the browser's time zone, so dates on the pages read as the owner's
// clock does (POLICY.md section 16). Without this script the field stays empty and the
// account reads UTC; the server checks the name either way.
(function () {
  "use strict";
  var field = document.querySelector("input[data-browser-time-zone]");
  if (!field) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    field.value = "";
  }
})();
