"""Action types, one module each, looked up by their `type` string."""

from collections.abc import Mapping
from typing import TYPE_CHECKING

from workflows import appointments
from workflows.actions import (
    add_tag,
    generate_one_time_link,
    remove_tag,
    send_email,
    send_webhook,
    wait,
)
from workflows.actions.base import (
    ActionContext,
    ActionDefinition,
    ActionFailed,
    ActionResult,
    ActionTransientError,
    ConfigForm,
    LeaseLost,
)

if TYPE_CHECKING:
    from bookings.models import Booking

REGISTRY: dict[str, ActionDefinition] = {
    module.DEFINITION.type: module.DEFINITION
    for module in (generate_one_time_link, send_email, wait, add_tag, remove_tag, send_webhook)
}


def get_action(action_type: str) -> ActionDefinition:
    return REGISTRY[action_type]


def values_expand(
    values: Mapping[str, Mapping[str, str]],
    *,
    types: Mapping[str, str],
    redact: bool = False,
    booking: "Booking | None" = None,
) -> dict[str, dict[str, str]]:
    """Stored custom values with each action's computed outputs added (a one-time link's
    `url` from its `link_id`) and the appointment's values (from its booking id); `types`
    maps a namespace (action key) to its action type. With `redact`, secret outputs get a
    stand-in instead (for texts that are stored). `booking`, the enrollment's booking already
    read (with its calendar and owner), spares reading it again."""
    expanded = {namespace: dict(outputs) for namespace, outputs in values.items()}
    by_type: dict[str, dict[str, dict[str, str]]] = {}
    for namespace, outputs in expanded.items():
        definition = REGISTRY.get(types.get(namespace, ""))
        if definition is not None and definition.expand_outputs is not None:
            by_type.setdefault(definition.type, {})[namespace] = outputs
    for action_type, group in by_type.items():
        expanded.update(REGISTRY[action_type].expand_outputs(group, redact=redact))
    expanded.update(appointments.expand(values, redact=redact, booking=booking))
    return expanded


__all__ = [
    "REGISTRY",
    "ActionContext",
    "ActionDefinition",
    "ActionFailed",
    "ActionResult",
    "ActionTransientError",
    "ConfigForm",
    "LeaseLost",
    "get_action",
    "values_expand",
]
