"""One validation for a workflow's trigger and actions, shared by the API and the admin.

Errors come back in the API's shape: {"trigger": {"type"|"config": ...}, "actions":
[{"key": [...], "type": [...], "config": {"<field>": [...]}} per action]}; the admin maps
the same messages onto its form fields.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflows import appointments, templating
from workflows.actions import REGISTRY
from workflows.triggers import TRIGGERS


class WorkflowInvalid(Exception):
    def __init__(self, errors: dict) -> None:
        super().__init__("The workflow is not valid.")
        self.errors = errors


@dataclass
class CleanAction:
    key: str
    type: str
    config: dict[str, Any]


@dataclass
class CleanWorkflow:
    trigger_type: str
    trigger_config: dict[str, Any]
    actions: list[CleanAction] = field(default_factory=list)


def clean_config(
    form_class, raw: Any, *, user, unknown_allowed: bool = False
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate raw JSON settings with a config form: (config, {field: [messages]})."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return {}, {"non_field_errors": ["Expected an object of settings."]}
    form = form_class(data=dict(raw), user=user)
    errors: dict[str, list[str]] = {}
    if not unknown_allowed:
        for name in raw:
            if name not in form.fields:
                errors.setdefault(name, []).append("Unknown setting.")
    if not form.is_valid():
        for name, messages in form.errors.items():
            target = "non_field_errors" if name == "__all__" else name
            errors.setdefault(target, []).extend(messages)
    return (form.to_config() if not errors else {}), errors


def default_key(action_type: str, taken: set[str]) -> str:
    """A readable key not yet used in the workflow: link, email, email_2, ..."""
    base = REGISTRY[action_type].default_key
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def key_errors(key: str, taken: set[str]) -> list[str]:
    if not templating.KEY_RE.match(key):
        return [
            "Use lower-case letters, digits and underscores, starting with a letter "
            "(at most 40 characters)."
        ]
    if key in templating.RESERVED_KEYS:
        return [f"“{key}” is reserved; choose another key."]
    if key in taken:
        return [f"Another action already uses the key “{key}”."]
    return []


def available_before(
    actions: Sequence[tuple[str, str]], *, trigger_type: str = ""
) -> dict[str, frozenset[str]]:
    """The custom values a step can use: the contact's, the appointment's (appointment
    triggers), then every earlier action's outputs. `actions` is the list of (key, type)
    before the step."""
    available = {templating.CONTACT_NAMESPACE: frozenset(templating.CONTACT_FIELDS)}
    if trigger_type in appointments.APPOINTMENT_TRIGGERS:
        available[templating.APPOINTMENT_NAMESPACE] = frozenset(templating.APPOINTMENT_FIELDS)
    for key, action_type in actions:
        definition = REGISTRY.get(action_type)
        if definition is not None:
            available[key] = frozenset(definition.outputs)
    return available


def template_errors_for(
    action_type: str,
    config: Mapping[str, Any],
    *,
    earlier: Sequence[tuple[str, str]],
    trigger_type: str = "",
) -> dict[str, list[str]]:
    """Messages per field of one action that depend on where it stands: custom values
    available given the trigger and the actions before it, and a wait relative to an
    appointment only where the trigger has one."""
    definition = REGISTRY[action_type]
    available = available_before(earlier, trigger_type=trigger_type)
    errors: dict[str, list[str]] = {}
    if config.get("relative_to") and trigger_type not in appointments.APPOINTMENT_TRIGGERS:
        errors["relative_to"] = [
            "Only a workflow with an appointment trigger has an appointment to count from."
        ]
    for name in definition.templated_fields:
        text = config.get(name) or ""
        messages = templating.template_errors(str(text), available=available)
        if messages:
            errors[name] = messages
    return errors


def validate_workflow(*, status: str, trigger: Any, actions: Any, user) -> CleanWorkflow:
    """Validate the API-shaped trigger and action list; raise WorkflowInvalid or return the
    cleaned workflow (default keys filled in, settings as JSON)."""
    errors: dict[str, Any] = {}
    trigger_type, trigger_config = "", {}
    if not isinstance(trigger, Mapping):
        errors["trigger"] = {"non_field_errors": ['Expected {"type": ..., "config": {}}.']}
    elif not isinstance(trigger.get("type"), str) or trigger["type"] not in TRIGGERS:
        choices = ", ".join(TRIGGERS)
        errors["trigger"] = {"type": [f"Choose one of: {choices}."]}
    else:
        trigger_type = trigger["type"]
        trigger_config, config_errors = clean_config(
            TRIGGERS[trigger_type].form_class, trigger.get("config"), user=user
        )
        if config_errors:
            errors["trigger"] = {"config": config_errors}

    if not isinstance(actions, Sequence) or isinstance(actions, str | bytes):
        errors["actions"] = ["Expected a list of actions."]
        raise WorkflowInvalid(errors)

    cleaned: list[CleanAction] = []
    action_errors: list[dict[str, Any]] = []
    # Only strings: JSON may carry a list or an object here, which cannot go in a set.
    explicit_keys = {
        a["key"] for a in actions if isinstance(a, Mapping) and isinstance(a.get("key"), str)
    } - {""}
    taken: set[str] = set()
    earlier: list[tuple[str, str]] = []
    for raw in actions:
        item_errors: dict[str, Any] = {}
        if not isinstance(raw, Mapping):
            action_errors.append({"non_field_errors": ["Expected an object."]})
            continue
        action_type = raw.get("type")
        if not isinstance(action_type, str) or action_type not in REGISTRY:
            item_errors["type"] = [f"Choose one of: {', '.join(REGISTRY)}."]
            action_errors.append(item_errors)
            continue
        key = raw.get("key") or default_key(action_type, taken | explicit_keys)
        if not isinstance(key, str):
            item_errors["key"] = ["Expected a string."]
        elif messages := key_errors(key, taken):
            item_errors["key"] = messages
        config, config_errors = clean_config(
            REGISTRY[action_type].form_class, raw.get("config"), user=user
        )
        if not config_errors:
            config_errors = template_errors_for(
                action_type, config, earlier=earlier, trigger_type=trigger_type
            )
        if config_errors:
            item_errors["config"] = config_errors
        action_errors.append(item_errors)
        if isinstance(key, str):
            taken.add(key)
            earlier.append((key, action_type))
        cleaned.append(CleanAction(key=str(key), type=action_type, config=config))
    if any(action_errors):
        errors["actions"] = action_errors
    elif status == "published" and not cleaned:
        errors["actions"] = ["A published workflow needs at least one action."]
    if errors:
        raise WorkflowInvalid(errors)
    return CleanWorkflow(trigger_type=trigger_type, trigger_config=trigger_config, actions=cleaned)
