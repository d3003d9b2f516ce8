"""Forms of the admin workflow builder.

Every trigger and action type has a typed settings form (workflows/triggers.py,
workflows/actions/<type>.py). The builder shows all of them, prefixed `trg_<type>__<field>`
and `cfg_<type>__<field>`, and the builder's script shows only those of the chosen type; on
save the chosen type's own form validates them, exactly as the API does, and the formset
runs the shared checks across actions (keys, custom values available at each step).
"""

import copy

from django import forms
from django.forms.models import BaseInlineFormSet
from django.forms.utils import pretty_name

from workflows import validation
from workflows.actions import REGISTRY
from workflows.models import Workflow, WorkflowAction
from workflows.triggers import TRIGGERS


def _prefixed_fields(prefix: str, definitions: dict) -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for type_name, definition in definitions.items():
        for name, field in definition.form_class(user=None).fields.items():
            field = copy.deepcopy(field)
            # The admin would derive "Cfg send email subject" from the prefixed name.
            field.label = field.label or pretty_name(name)
            # Required only for the chosen type: its own form says so on clean.
            field.required = False
            field.widget.is_required = False
            field.widget.attrs["data-config-type"] = type_name
            fields[f"{prefix}_{type_name}__{name}"] = field
    return fields


TRIGGER_FIELDS = _prefixed_fields("trg", TRIGGERS)
ACTION_FIELDS = _prefixed_fields("cfg", REGISTRY)


def _type_fields(prefix: str, type_name: str) -> list[str]:
    start = f"{prefix}_{type_name}__"
    pool = TRIGGER_FIELDS if prefix == "trg" else ACTION_FIELDS
    return [name for name in pool if name.startswith(start)]


class _TypedSettingsMixin:
    """Shared by the workflow form (trigger) and the action form (config)."""

    settings_prefix = ""
    definitions: dict = {}
    user = None

    def _limit_choices(self) -> None:
        # The builder's own calendars only (a superuser: all), like the API.
        for type_name, definition in self.definitions.items():
            typed = definition.form_class(user=self.user)
            for name, field in typed.fields.items():
                prefixed = f"{self.settings_prefix}_{type_name}__{name}"
                if hasattr(field, "queryset") and prefixed in self.fields:
                    self.fields[prefixed].queryset = field.queryset

    def _initial_settings(self, type_name: str, config: dict) -> None:
        for name, value in (config or {}).items():
            self.initial[f"{self.settings_prefix}_{type_name}__{name}"] = value

    def _clean_settings(self, type_name: str) -> dict | None:
        """Validate the chosen type's fields with its own form; errors go on the fields."""
        definition = self.definitions[type_name]
        prefix = f"{self.settings_prefix}_{type_name}__"
        raw = {}
        for prefixed in _type_fields(self.settings_prefix, type_name):
            widget = self.fields[prefixed].widget
            raw[prefixed.removeprefix(prefix)] = widget.value_from_datadict(
                self.data, self.files, self.add_prefix(prefixed)
            )
        typed = definition.form_class(data=raw, user=self.user)
        if typed.is_valid():
            return typed.to_config()
        for name, messages in typed.errors.items():
            target = None if name == "__all__" else prefix + name
            for message in messages:
                self.add_error(target, message)
        return None


class WorkflowForm(_TypedSettingsMixin, forms.ModelForm):
    settings_prefix = "trg"
    definitions = TRIGGERS

    class Meta:
        model = Workflow
        fields = ["name", "status", "trigger_type"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._limit_choices()
        if self.instance.pk:
            self._initial_settings(self.instance.trigger_type, self.instance.trigger_config)

    def clean(self) -> dict:
        cleaned = super().clean()
        trigger_type = cleaned.get("trigger_type")
        if trigger_type in TRIGGERS:
            config = self._clean_settings(trigger_type)
            if config is not None:
                self.instance.trigger_config = config
        return cleaned


for _name, _field in TRIGGER_FIELDS.items():
    WorkflowForm.base_fields[_name] = _field
    WorkflowForm.declared_fields[_name] = _field


class WorkflowActionForm(_TypedSettingsMixin, forms.ModelForm):
    settings_prefix = "cfg"
    definitions = REGISTRY

    class Meta:
        model = WorkflowAction
        fields = ["position", "key", "type"]
        widgets = {"position": forms.HiddenInput(attrs={"data-role": "position"})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].required = False
        self.fields[
            "key"
        ].help_text = "Names this action's outputs, e.g. {{ link.url }}. Empty: a readable default."
        self.fields["position"].required = False
        self._limit_choices()
        if self.instance.pk:
            self._initial_settings(self.instance.type, self.instance.config)

    def clean(self) -> dict:
        cleaned = super().clean()
        action_type = cleaned.get("type")
        if action_type in REGISTRY and not cleaned.get("DELETE"):
            config = self._clean_settings(action_type)
            if config is not None:
                self.instance.config = config
                cleaned["config"] = config
        return cleaned

    def validate_unique(self) -> None:
        # Keys are checked across the formset (defaults are filled in there first).
        pass


for _name, _field in ACTION_FIELDS.items():
    WorkflowActionForm.base_fields[_name] = _field
    WorkflowActionForm.declared_fields[_name] = _field


class WorkflowActionFormSet(BaseInlineFormSet):
    """The checks that span actions: default keys, unique keys, and custom values that
    refer only to the contact or to earlier actions (the API runs the same functions)."""

    def clean(self) -> None:
        super().clean()
        kept = []
        for index, form in enumerate(self.forms):
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            if not form.cleaned_data.get("type"):
                continue
            position = form.cleaned_data.get("position")
            kept.append((position if position is not None else 10_000 + index, index, form))
        kept.sort(key=lambda item: (item[0], item[1]))

        explicit = {f.cleaned_data.get("key") for _, _, f in kept if f.cleaned_data.get("key")}
        taken: set[str] = set()
        earlier: list[tuple[str, str]] = []
        for position, (_, _, form) in enumerate(kept):
            data = form.cleaned_data
            action_type = data["type"]
            key = data.get("key") or validation.default_key(action_type, taken | explicit)
            form.instance.key = data["key"] = key
            form.instance.position = data["position"] = position
            for message in validation.key_errors(key, taken):
                form.add_error("key", message)
            config = data.get("config")
            if config is not None:
                for name, messages in validation.template_errors_for(
                    action_type,
                    config,
                    earlier=earlier,
                    trigger_type=getattr(self.instance, "trigger_type", ""),
                ).items():
                    for message in messages:
                        form.add_error(f"cfg_{action_type}__{name}", message)
            taken.add(key)
            earlier.append((key, action_type))

        status = getattr(self.instance, "status", None)
        if status == Workflow.Status.PUBLISHED and not kept:
            raise forms.ValidationError("A published workflow needs at least one action.")


class TestRunForm(forms.Form):
    email = forms.EmailField(
        label="Contact email", help_text="An existing contact; the workflow runs for real."
    )

    def __init__(self, *args, owner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_email(self) -> str:
        from contacts.services import contact_get_by_email

        contact = contact_get_by_email(owner=self.owner, email=self.cleaned_data["email"])
        if contact is None:
            raise forms.ValidationError("No contact has this email.")
        self.contact = contact
        return self.cleaned_data["email"]
