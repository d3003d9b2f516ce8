/* Onceslot booking picker: progressive enhancement of the server-rendered page.
 *
 * Without this script the page works through plain links (?month=&date=&tz=) and form
 * posts. With it: the invitee's timezone is detected (Intl) when the URL does not name one,
 * month navigation, day choice and timezone changes read the public slots API instead of
 * reloading, and the details form appears once a time is picked. The markup drawn here
 * matches templates/bookings/partials/ so CSS and tests see the same page either way.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-booking-picker]");
  if (!root || !window.fetch || !window.URLSearchParams) return;
  document.documentElement.classList.add("js");

  // Names, patterns and words in the page's language, from the server (config/i18n.py).
  var formatsNode = document.getElementById("booking-formats");
  var F = formatsNode ? JSON.parse(formatsNode.textContent) : {};
  var MONTHS = F.months || ["January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"];
  var WEEKDAYS = F.weekdays || ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
    "Friday", "Saturday"];
  var S = F.strings || {};
  var CARRIED = F.carried || {};

  function fill(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (all, key) {
      return key in values ? values[key] : all;
    });
  }

  function t(key, fallback, values) { return fill(S[key] || fallback, values || {}); }

  function freeCount(n) {
    return t(n === 1 ? "free_one" : "free_many", n === 1 ? "%(count)s free time" : "%(count)s free times", { count: n });
  }

  // HH:MM, or h:MM AM on a 12-hour clock, from an ISO string in the zone of its offset.
  function timeLabel(iso) {
    var hour = +iso.slice(11, 13);
    var minute = iso.slice(14, 16);
    if (F.clock !== 12) return iso.slice(11, 16);
    var marks = F.am_pm || ["AM", "PM"];
    return ((hour % 12) || 12) + ":" + minute + "\u00a0" + (hour < 12 ? marks[0] : marks[1]);
  }

  var el = {
    notice: root.querySelector("[data-notice]"),
    live: root.querySelector("[data-live]"),
    tzSelect: root.querySelector("[data-tz-select]"),
    tzInput: root.querySelector("[data-tz-input]"),
    dateInput: root.querySelector("[data-date-input]"),
    monthView: root.querySelector("[data-month-view]"),
    legend: root.querySelector("[data-times-legend]"),
    timeList: root.querySelector("[data-time-list]"),
    details: root.querySelector("[data-details]"),
    summary: root.querySelector("[data-selected-summary]"),
    form: root.querySelector("[data-book-form]"),
    submit: root.querySelector("[data-submit]")
  };
  var tzLabels = document.querySelectorAll("[data-tz-label]");
  var basePath = window.location.pathname;

  var state = {
    tz: root.getAttribute("data-tz"),
    month: root.getAttribute("data-month"),
    date: root.getAttribute("data-date") || "",
    time: checkedTime(),
    slots: null, // {"YYYY-MM-DD": [iso, ...]} of state.month, once fetched
    windowEnd: new Date(root.getAttribute("data-window-end")),
    duration: root.getAttribute("data-duration") || "",
    loading: 0
  };

  // ---- small helpers -------------------------------------------------------------------

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function parts(isoDate) {
    return { y: +isoDate.slice(0, 4), m: +isoDate.slice(5, 7), d: +isoDate.slice(8, 10) };
  }

  function dayLabel(isoDate) {
    var p = parts(isoDate);
    var weekday = new Date(Date.UTC(p.y, p.m - 1, p.d)).getUTCDay();
    return fill(F.day_pattern || "{weekday}, {day} {month} {year}",
      {}).replace("{weekday}", WEEKDAYS[weekday]).replace("{day}", p.d)
      .replace("{month}", MONTHS[p.m - 1]).replace("{year}", p.y);
  }

  function monthLabel(month) {
    var p = parts(month + "-01");
    return (F.month_pattern || "{month} {year}").replace("{month}", MONTHS[p.m - 1])
      .replace("{year}", p.y);
  }

  function addMonths(month, n) {
    var p = parts(month + "-01");
    var index = p.y * 12 + (p.m - 1) + n;
    return Math.floor(index / 12) + "-" + pad((index % 12) + 1);
  }

  function daysIn(month) {
    var p = parts(month + "-01");
    return new Date(Date.UTC(p.y, p.m, 0)).getUTCDate();
  }

  // The calendar date of an instant in a zone, as YYYY-MM-DD.
  function dateIn(tz, when) {
    try {
      var f = new Intl.DateTimeFormat("en-US", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
      var bits = {};
      f.formatToParts(when).forEach(function (part) { bits[part.type] = part.value; });
      return bits.year + "-" + bits.month + "-" + bits.day;
    } catch (e) {
      return when.toISOString().slice(0, 10);
    }
  }

  function tzLabel(tz) { return tz.replace(/_/g, " "); }

  function sameInstant(a, b) { return !!a && !!b && Date.parse(a) === Date.parse(b); }

  function checkedTime() {
    var checked = root.querySelector("input[name=start]:checked");
    return checked ? checked.value : "";
  }

  function pageUrl(params) {
    var query = new URLSearchParams();
    params = Object.assign({}, CARRIED, params);
    Object.keys(params).forEach(function (key) { if (params[key]) query.set(key, params[key]); });
    var text = query.toString();
    return basePath + (text ? "?" + text : "");
  }

  function announce(text) {
    // Clear first so that the same message twice is still read out.
    el.live.textContent = "";
    window.setTimeout(function () { el.live.textContent = text; }, 30);
  }

  function showNotice(text) {
    el.notice.textContent = text;
    el.notice.classList.toggle("is-empty", !text);
  }

  function syncUrl() {
    window.history.replaceState(null, "", pageUrl({
      tz: state.tz, month: state.month, date: state.date, time: state.time
    }));
    el.tzInput.value = state.tz;
    el.dateInput.value = state.date;
    var tzForm = root.querySelector("[data-tz-form]");
    if (tzForm) {
      tzForm.querySelector("input[name=month]").value = state.month;
      var dateField = tzForm.querySelector("input[name=date]");
      if (dateField) dateField.value = state.date;
    }
  }

  function make(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- drawing -------------------------------------------------------------------------

  function firstMonth() { return dateIn(state.tz, new Date()).slice(0, 7); }
  function lastMonth() { return dateIn(state.tz, state.windowEnd).slice(0, 7); }

  function navButton(direction, target, enabled) {
    var arrow = direction === "prev" ? "\u2039" : "\u203a";
    if (!enabled) return make("span", { "class": "nav-btn", "aria-hidden": "true" }, arrow);
    return make("a", {
      "class": "nav-btn",
      href: pageUrl({ tz: state.tz, month: target }),
      "data-nav": direction,
      "data-month-target": target,
      rel: "nofollow",
      "aria-label": direction === "prev" ? t("prev_month", "Previous month") : t("next_month", "Next month")
    }, arrow);
  }

  function drawMonth() {
    var month = state.month;
    var nav = el.monthView.querySelector(".month-nav");
    var label = nav.querySelector("[data-month-label]");
    label.textContent = monthLabel(month);
    var prev = addMonths(month, -1);
    var next = addMonths(month, 1);
    nav.replaceChild(navButton("prev", prev, month > firstMonth()), nav.firstElementChild);
    nav.replaceChild(navButton("next", next, month < lastMonth()), nav.lastElementChild);

    var body = el.monthView.querySelector("[data-month-body]");
    body.textContent = "";
    var p = parts(month + "-01");
    var offset = (new Date(Date.UTC(p.y, p.m - 1, 1)).getUTCDay() + 6) % 7; // Monday first
    var total = daysIn(month);
    var today = dateIn(state.tz, new Date());
    var row = null;
    var anyFree = false;
    for (var cell = 0; cell < Math.ceil((offset + total) / 7) * 7; cell++) {
      if (cell % 7 === 0) { row = make("tr"); body.appendChild(row); }
      var td = make("td");
      var day = cell - offset + 1;
      if (day >= 1 && day <= total) {
        var iso = month + "-" + pad(day);
        var free = (state.slots[iso] || []).length;
        if (free) {
          anyFree = true;
          var selected = iso === state.date;
          var link = make("a", {
            "class": "day free" + (selected ? " selected" : ""),
            href: pageUrl({ tz: state.tz, month: month, date: iso }),
            rel: "nofollow",
            "data-date": iso,
            "aria-label": dayLabel(iso) + ", " + freeCount(free)
          }, String(day));
          if (selected) link.setAttribute("aria-current", "true");
          td.appendChild(link);
        } else {
          td.appendChild(make("span", { "class": "day" + (iso === today ? " today" : "") }, String(day)));
        }
      }
      row.appendChild(td);
    }

    var empty = el.monthView.querySelector("[data-empty-month]");
    if (empty) empty.parentNode.removeChild(empty);
    if (!anyFree) {
      empty = make("p", { "class": "muted empty-month", "data-empty-month": "" },
        t("empty_month", "No free times in %(month)s.", { month: monthLabel(month) }));
      el.monthView.appendChild(empty);
    }
  }

  function drawTimes() {
    var times = state.date ? (state.slots[state.date] || []) : [];
    el.legend.textContent = state.date ? dayLabel(state.date) : t("pick_day", "Pick a day");
    el.timeList.textContent = "";
    var stillFree = false;
    times.forEach(function (iso, i) {
      var id = "time-" + (i + 1);
      var input = make("input", { "class": "time-input", type: "radio", name: "start", id: id, value: iso });
      if (sameInstant(iso, state.time)) { input.checked = true; stillFree = true; }
      el.timeList.appendChild(input);
      el.timeList.appendChild(make("label", { "class": "time-btn", "for": id }, timeLabel(iso)));
    });
    if (!times.length) {
      el.timeList.appendChild(make("p", { "class": "muted" },
        state.date ? t("no_times_day", "No free times on this day.")
          : t("choose_day", "Choose a highlighted day to see its free times.")));
    }
    if (!stillFree) state.time = "";
    drawDetails();
  }

  function drawDetails() {
    if (!el.details) return;
    var chosen = root.querySelector("input[name=start]:checked");
    el.details.hidden = !chosen;
    if (chosen) {
      el.summary.textContent = t("day_at", "%(day)s at %(time)s", {
        day: dayLabel(chosen.value.slice(0, 10)), time: timeLabel(chosen.value)
      }) + " (" + tzLabel(state.tz) + ")" +
        (state.duration ? " \u00b7 " + state.duration : "");
    }
  }

  // ---- loading -------------------------------------------------------------------------

  function fetchMonth(month, tz) {
    var query = new URLSearchParams({ start: month + "-01", end: month + "-" + pad(daysIn(month)), timezone: tz });
    var url = root.getAttribute("data-slots-url") + "?" + query.toString();
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("slots " + response.status);
        return response.json();
      })
      .then(function (data) { return data.slots || {}; });
  }

  // Show `month` in `tz`, keeping `wantDate` selected when it has free times. On failure,
  // fall back to the plain page for the same choice (`fallbackUrl`), so nothing is lost.
  function show(month, tz, wantDate, fallbackUrl) {
    var ticket = ++state.loading;
    root.classList.add("is-loading");
    root.setAttribute("aria-busy", "true");
    return fetchMonth(month, tz).then(function (slots) {
      if (ticket !== state.loading) return; // a later request won
      state.tz = tz;
      state.month = month;
      state.slots = slots;
      var dates = Object.keys(slots).sort();
      state.date = slots[wantDate] ? wantDate : (dates[0] || "");
      showNotice("");
      drawMonth();
      drawTimes();
      syncUrl();
      tzLabels.forEach(function (node) { node.textContent = tzLabel(tz); });
      var count = state.date ? slots[state.date].length : 0;
      announce(monthLabel(month) + ". " + (state.date
        ? t("on_day", "%(count)s on %(day)s, in %(tz)s.", { count: freeCount(count), day: dayLabel(state.date), tz: tzLabel(tz) })
        : t("no_times_month", "No free times this month.")));
    }).catch(function () {
      if (ticket !== state.loading) return;
      if (fallbackUrl) { window.location.assign(fallbackUrl); return; }
      showNotice(t("load_failed", "Could not load free times. Check your connection and try again."));
    }).then(function () {
      if (ticket === state.loading) {
        root.classList.remove("is-loading");
        root.removeAttribute("aria-busy");
      }
    });
  }

  // Day choice needs the month's slots; the first time, read them (the server drew the
  // page, so the script has no copy yet).
  function ensureSlots() {
    if (state.slots) return Promise.resolve();
    return fetchMonth(state.month, state.tz).then(function (slots) { state.slots = slots; });
  }

  function chooseDay(iso, fallbackUrl) {
    ensureSlots().then(function () {
      state.date = state.slots[iso] ? iso : state.date;
      var links = el.monthView.querySelectorAll("a.day");
      links.forEach(function (link) {
        var on = link.getAttribute("data-date") === state.date;
        link.classList.toggle("selected", on);
        if (on) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
      });
      drawTimes();
      syncUrl();
      var count = (state.slots[state.date] || []).length;
      announce(t("on_day_short", "%(count)s on %(day)s.", { count: freeCount(count), day: dayLabel(state.date) }));
    }).catch(function () { window.location.assign(fallbackUrl); });
  }

  function setTimezone(tz) {
    if (!tz || tz === state.tz) return;
    if (el.tzSelect && !Array.prototype.some.call(el.tzSelect.options, function (o) { return o.value === tz; })) {
      el.tzSelect.insertBefore(make("option", { value: tz }, tz), el.tzSelect.firstChild);
    }
    if (el.tzSelect) el.tzSelect.value = tz;
    var previous = state.tz;
    show(state.month, tz, state.date, null).then(function () {
      if (state.tz !== tz && el.tzSelect) el.tzSelect.value = previous; // the server refused it
    });
  }

  // ---- events --------------------------------------------------------------------------

  root.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link || !root.contains(link) || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (link.hasAttribute("data-nav")) {
      event.preventDefault();
      var target = link.getAttribute("data-month-target") ||
        new URL(link.href).searchParams.get("month");
      var direction = link.getAttribute("data-nav");
      show(target, state.tz, "", link.href).then(function () {
        var again = el.monthView.querySelector("[data-nav=" + direction + "]");
        (again || el.monthView.querySelector("[data-month-label]")).focus();
      });
    } else if (link.classList.contains("day") && link.hasAttribute("data-date")) {
      event.preventDefault();
      chooseDay(link.getAttribute("data-date"), link.href);
    }
  });

  // On a phone the details form sits below the month and the times: bring it into view
  // once a time is picked (and "Change time" goes back up).
  function reduceMotion() {
    return !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
  }

  function revealDetails() {
    if (!el.details || el.details.hidden) return;
    var box = el.details.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight - 160) {
      el.details.scrollIntoView({ block: "start", behavior: reduceMotion() ? "auto" : "smooth" });
    }
  }

  root.addEventListener("click", function (event) {
    var back = event.target.closest("[data-back-to-times]");
    if (!back) return;
    event.preventDefault();
    var times = root.querySelector("[data-times]");
    times.scrollIntoView({ block: "start", behavior: reduceMotion() ? "auto" : "smooth" });
    var target = root.querySelector("input[name=start]:checked") || root.querySelector("input[name=start]");
    if (target) target.focus({ preventScroll: true });
  });

  el.timeList.addEventListener("change", function (event) {
    if (event.target.name !== "start") return;
    state.time = event.target.value;
    showNotice("");
    drawDetails();
    syncUrl();
    revealDetails();
    announce(t("selected", "Selected %(time)s.", { time: timeLabel(state.time) }) + " " +
      (el.details ? t("details_below", "Your details are below.") : ""));
  });

  if (el.tzSelect) {
    el.tzSelect.addEventListener("change", function () { setTimezone(el.tzSelect.value); });
    var tzForm = root.querySelector("[data-tz-form]");
    if (tzForm) tzForm.addEventListener("submit", function (event) {
      event.preventDefault();
      setTimezone(el.tzSelect.value);
    });
  }

  if (el.form) el.form.addEventListener("submit", function (event) {
    if (!root.querySelector("input[name=start]:checked")) {
      event.preventDefault();
      showNotice(t("pick_first", "Pick a time first."));
      return;
    }
    if (el.form.getAttribute("data-sent")) { event.preventDefault(); return; }
    el.form.setAttribute("data-sent", "1");
    if (el.submit) { el.submit.disabled = true; el.submit.textContent = t("sending", "Sending\u2026"); }
  });

  // Back/forward cache: a restored page must not keep a disabled button.
  var submitLabel = el.submit ? el.submit.textContent : "";
  window.addEventListener("pageshow", function (event) {
    // Back to a page that sent its booking: ask the server again, which knows it is this
    // visitor's booking now (not a time someone else took).
    if (event.persisted && el.form && el.form.getAttribute("data-sent")) {
      window.location.reload();
      return;
    }
    if (el.form) el.form.removeAttribute("data-sent");
    if (el.submit) { el.submit.disabled = false; el.submit.textContent = submitLabel; }
  });

  // Hide the details until a time is chosen (a no-script visitor always sees them).
  // Keep them open when the server answered with field errors for a chosen time.
  drawDetails();

  // The URL names no zone: adopt the browser's, if it differs from the server's default.
  if (root.getAttribute("data-tz-explicit") !== "1") {
    var detected = "";
    try { detected = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { detected = ""; }
    if (detected && detected !== state.tz) setTimezone(detected);
  }
})();
