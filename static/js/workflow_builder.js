/* The admin workflow builder: show the settings of the chosen trigger and action types,
 * reorder actions, and insert custom values with a picker listing what is available at
 * each step (the contact's fields and the outputs of the actions above it).
 * No CDN, no dependencies. The server validates everything again on save. */
(function () {
  "use strict";

  var config = null;

  function readConfig() {
    var node = document.getElementById("workflow-builder-config");
    return node ? JSON.parse(node.textContent) : null;
  }

  function rowType(row, prefix) {
    // Rows carry "field-<prefix>_<type>__<name>"; return <type> or null.
    var match = row.className.match(new RegExp("field-" + prefix + "_([a-z0-9_]+?)__"));
    return match ? match[1] : null;
  }

  function toggleRows(container, prefix, chosen) {
    container.querySelectorAll(".form-row").forEach(function (row) {
      var type = rowType(row, prefix);
      if (type !== null) {
        row.style.display = type === chosen ? "" : "none";
      }
    });
  }

  // Trigger --------------------------------------------------------------------------

  function setUpTrigger() {
    var select = document.getElementById("id_trigger_type");
    if (!select) return;
    var fieldset = select.closest("fieldset") || document;
    var help = document.createElement("div");
    help.className = "help wf-trigger-help";
    select.parentNode.appendChild(help);
    function update() {
      toggleRows(fieldset, "trg", select.value);
      var info = config.triggers[select.value];
      help.textContent = info ? info.help : "";
      // The appointment's values are offered only under an appointment trigger.
      if (group()) renumber();
    }
    select.addEventListener("change", update);
    update();
  }

  // Actions --------------------------------------------------------------------------

  function group() {
    return document.getElementById("actions-group");
  }

  function actionForms() {
    var g = group();
    if (!g) return [];
    return Array.prototype.filter.call(
      g.querySelectorAll(".inline-related"),
      function (form) {
        if (form.classList.contains("empty-form") || form.id.indexOf("__prefix__") !== -1) {
          return false;
        }
        var del = form.querySelector('input[name$="-DELETE"]');
        return !(del && del.checked);
      }
    );
  }

  function field(form, suffix) {
    return form.querySelector('[name$="-' + suffix + '"]');
  }

  function typeOf(form) {
    var select = field(form, "type");
    return select ? select.value : "";
  }

  /* The keys the server will use: an explicit key, else the type's default made unique
   * (link, link_2, ...), the same rule as workflows.validation.default_key. */
  function computeKeys(forms) {
    var explicit = {};
    forms.forEach(function (form) {
      var input = field(form, "key");
      if (input && input.value.trim()) explicit[input.value.trim()] = true;
    });
    var taken = {};
    return forms.map(function (form) {
      var input = field(form, "key");
      var type = typeOf(form);
      var key = input ? input.value.trim() : "";
      if (!key && type && config.actions[type]) {
        var base = config.actions[type].default_key;
        key = base;
        var n = 2;
        while (taken[key] || explicit[key]) {
          key = base + "_" + n;
          n += 1;
        }
        if (input) input.placeholder = key;
      }
      taken[key] = true;
      return key;
    });
  }

  function placeholder(namespace, name) {
    return "{{ " + namespace + "." + name + " }}";
  }

  function triggerType() {
    var select = document.getElementById("id_trigger_type");
    return select ? select.value : "";
  }

  function availableAt(index, forms, keys) {
    var groups = [{ label: "Contact", namespace: "contact", names: config.contact }];
    if (config.appointment.triggers.indexOf(triggerType()) !== -1) {
      groups.push({ label: "Appointment", namespace: "appointment", names: config.appointment.names });
    }
    for (var i = 0; i < index; i += 1) {
      var type = typeOf(forms[i]);
      var info = config.actions[type];
      if (info && info.outputs.length && keys[i]) {
        groups.push({
          label: keys[i] + " (" + info.label + ")",
          namespace: keys[i],
          names: info.outputs,
        });
      }
    }
    return groups;
  }

  function insertAtCursor(input, text) {
    var start = input.selectionStart != null ? input.selectionStart : input.value.length;
    var end = input.selectionEnd != null ? input.selectionEnd : input.value.length;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    var caret = start + text.length;
    input.focus();
    if (input.setSelectionRange) input.setSelectionRange(caret, caret);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function fillPicker(picker, groups) {
    var chosen = picker.value;
    picker.innerHTML = "";
    var first = document.createElement("option");
    first.value = "";
    first.textContent = "Insert custom value…";
    picker.appendChild(first);
    groups.forEach(function (g) {
      var optgroup = document.createElement("optgroup");
      optgroup.label = g.label;
      g.names.forEach(function (name) {
        var option = document.createElement("option");
        option.value = placeholder(g.namespace, name);
        option.textContent = placeholder(g.namespace, name);
        optgroup.appendChild(option);
      });
      picker.appendChild(optgroup);
    });
    picker.value = chosen && picker.querySelector('option[value="' + chosen + '"]') ? chosen : "";
  }

  function ensurePickers(form) {
    Object.keys(config.actions).forEach(function (type) {
      config.actions[type].templated.forEach(function (name) {
        var input = field(form, "cfg_" + type + "__" + name);
        if (!input || input.dataset.pickerReady) return;
        input.dataset.pickerReady = "1";
        var picker = document.createElement("select");
        picker.className = "value-picker";
        picker.setAttribute("aria-label", "Insert custom value into " + name);
        picker.dataset.target = input.name;
        picker.addEventListener("change", function () {
          if (picker.value) {
            insertAtCursor(input, picker.value);
            picker.value = "";
          }
        });
        input.insertAdjacentElement("afterend", picker);
      });
    });
  }

  function renumber() {
    var forms = actionForms();
    var keys = computeKeys(forms);
    forms.forEach(function (form, index) {
      var position = field(form, "position");
      if (position) position.value = index;
      var type = typeOf(form);
      toggleRows(form, "cfg", type);
      ensurePickers(form);
      var groups = availableAt(index, forms, keys);
      form.querySelectorAll("select.value-picker").forEach(function (picker) {
        fillPicker(picker, groups);
      });
      var title = form.querySelector("h3 .wf-step-title");
      if (title) {
        var info = config.actions[type];
        title.textContent =
          "Step " + (index + 1) + (info ? " · " + info.label : "") + (keys[index] ? " (" + keys[index] + ")" : "");
      }
    });
  }

  function move(form, direction) {
    var forms = actionForms();
    var index = forms.indexOf(form);
    var other = forms[index + direction];
    if (!other) return;
    if (direction < 0) {
      other.parentNode.insertBefore(form, other);
    } else {
      other.parentNode.insertBefore(other, form);
    }
    renumber();
  }

  function decorate(form) {
    if (form.dataset.builderReady || form.classList.contains("empty-form")) return;
    form.dataset.builderReady = "1";
    var heading = form.querySelector("h3");
    if (heading) {
      var title = document.createElement("span");
      title.className = "wf-step-title";
      heading.insertBefore(title, heading.firstChild);
      [["↑", -1, "Move up"], ["↓", 1, "Move down"]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "wf-move";
        button.textContent = spec[0];
        button.title = spec[2];
        button.setAttribute("aria-label", spec[2]);
        button.addEventListener("click", function (event) {
          event.preventDefault();
          move(form, spec[1]);
        });
        heading.appendChild(button);
      });
    }
  }

  function setUpActions() {
    var g = group();
    if (!g) return;
    g.querySelectorAll(".inline-related").forEach(decorate);
    g.addEventListener("change", function (event) {
      if (event.target.matches('[name$="-type"], [name$="-key"], [name$="-DELETE"]')) {
        renumber();
      }
    });
    g.addEventListener("input", function (event) {
      if (event.target.matches('[name$="-key"]')) renumber();
    });
    document.addEventListener("formset:added", function (event) {
      var form = event.target.closest ? event.target.closest(".inline-related") : null;
      if (form) decorate(form);
      renumber();
    });
    document.addEventListener("formset:removed", renumber);
    var main = document.getElementById("workflow_form");
    if (main) main.addEventListener("submit", renumber);
    renumber();
  }

  function init() {
    config = readConfig();
    if (!config) return;
    setUpTrigger();
    setUpActions();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
