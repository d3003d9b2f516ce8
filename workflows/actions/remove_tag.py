"""Remove tag."""

from contacts.services import contact_tag_remove
from workflows.actions.add_tag import TagForm
from workflows.actions.base import ActionContext, ActionDefinition, ActionResult


def run(context: ActionContext) -> ActionResult:
    removed = contact_tag_remove(contact=context.contact, name=context.config["tag"])
    return ActionResult(output={"tag": context.config["tag"], "changed": removed})


DEFINITION = ActionDefinition(
    type="remove_tag",
    label="Remove tag",
    category="Contacts",
    default_key="remove_tag",
    outputs=("tag",),
    form_class=TagForm,
    run=run,
    help_text="Remove a tag from the contact.",
)
