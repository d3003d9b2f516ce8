/* The language menu in the page header: switch as soon as a language is picked (without
 * this script, the menu has its own button). */
(function () {
  "use strict";
  var select = document.querySelector("[data-lang-select]");
  if (!select) return;
  var button = document.querySelector("[data-lang-apply]");
  if (button) button.hidden = true;
  select.addEventListener("change", function () { select.form.submit(); });
})();
