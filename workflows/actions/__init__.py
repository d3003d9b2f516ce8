"""Action types, one module each, looked up by their `type` string."""

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
)

REGISTRY: dict[str, ActionDefinition] = {
    module.DEFINITION.type: module.DEFINITION
    for module in (generate_one_time_link, send_email, wait, add_tag, remove_tag, send_webhook)
}


def get_action(action_type: str) -> ActionDefinition:
    return REGISTRY[action_type]


__all__ = [
    "REGISTRY",
    "ActionContext",
    "ActionDefinition",
    "ActionFailed",
    "ActionResult",
    "ActionTransientError",
    "ConfigForm",
    "get_action",
]
