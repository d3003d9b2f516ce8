/* The booking page's timezone menu, made searchable (the plain <select> works without it).
 *
 * Adds a search box above the menu that narrows its entries (by city, region, "UTC+09" or
 * local time); Enter picks the first match. Puts the browser's own zone first, in a group of
 * its own. Changing the menu's value fires "change" as a person's pick would, so
 * booking.js reloads the times.
 */
(function () {
  "use strict";
  var select = document.querySelector("[data-tz-select]");
  if (!select) return;
  var form = select.closest("form");
  var words = {};
  try { words = JSON.parse(document.getElementById("booking-formats").textContent).strings || {}; } catch (e) { words = {}; }

  // The browser's zone first.
  var detected = "";
  try { detected = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { detected = ""; }
  var own = null;
  Array.prototype.forEach.call(select.options, function (option) {
    if (option.value === detected && !own) own = option;
  });
  if (own) {
    var group = document.createElement("optgroup");
    group.label = words.your_zone || "Your time zone";
    var copy = own.cloneNode(true);
    copy.selected = false;
    copy.setAttribute("data-detected", "");
    group.appendChild(copy);
    select.insertBefore(group, select.firstChild);
    if (own.selected) copy.selected = true;
  }

  // Search.
  var search = document.createElement("input");
  search.type = "search";
  search.className = "tz-search";
  search.setAttribute("data-tz-search", "");
  search.setAttribute("autocomplete", "off");
  search.placeholder = words.search_zones || "Search time zones";
  search.setAttribute("aria-label", words.search_zones || "Search time zones");
  var row = select.closest(".tz-row") || select;
  row.parentNode.insertBefore(search, row);

  function normal(text) {
    return text.toLowerCase().replace(/[_\u2212]/g, function (c) { return c === "_" ? " " : "-"; });
  }

  function matches(option, query) {
    var group = option.parentNode.tagName === "OPTGROUP" ? option.parentNode.label : "";
    return normal(option.value + " " + option.textContent + " " + group).indexOf(query) !== -1;
  }

  function filter() {
    var query = normal(search.value.trim());
    var first = null;
    Array.prototype.forEach.call(select.querySelectorAll("option"), function (option) {
      var show = !query || matches(option, query);
      option.hidden = !show;
      if (show && !first && query) first = option;
    });
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
    });
    return first;
  }

  function pick(option) {
    if (!option || option.value === select.value) return;
    select.value = option.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  search.addEventListener("input", filter);
  search.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    event.preventDefault();
    pick(filter());
  });
  if (form) form.addEventListener("submit", function () { search.value = ""; filter(); });
})();
