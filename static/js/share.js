/* Copy buttons and tabs of the admin Share panel (and the one-time link list). No CDN, no deps.
 * A button with data-copy-target="<id>" copies that input's or textarea's value. */
(function () {
  "use strict";

  function fallbackCopy(text) {
    // For plain-HTTP admin sites, where navigator.clipboard is missing.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "0";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () { return true; },
        function () { return fallbackCopy(text); }
      );
    }
    return Promise.resolve(fallbackCopy(text));
  }

  function onCopyClick(button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) { return; }
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyText(target.value).then(function (ok) {
      button.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
      button.setAttribute("data-copied", ok ? "true" : "false");
      if (!ok && target.type !== "hidden") { target.focus(); target.select(); }
      window.setTimeout(function () { button.textContent = label; }, 2000);
    });
  }

  function selectTab(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) { panel.hidden = !selected; }
    });
  }

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy-target]");
    if (copy) { event.preventDefault(); onCopyClick(copy); return; }
    var tab = event.target.closest("[role=tab]");
    if (tab) { selectTab(tab); }
  });

  // A form with data-confirm (Revoke) asks first; without JavaScript it posts at once.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
  });

  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest("[role=tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) { return; }
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    selectTab(next);
    next.focus();
  });

  function init() {
    // Without JavaScript every panel stays visible; with it, one tab at a time.
    document.querySelectorAll("[role=tablist]").forEach(function (list) {
      var selected = list.querySelector("[role=tab][aria-selected=true]") || list.querySelector("[role=tab]");
      if (selected) { selectTab(selected); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
