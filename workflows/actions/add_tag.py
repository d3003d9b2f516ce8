"""Add tag: through the contacts service, so `contact_tag_added` triggers fire."""

from django import forms

from config.text import validate_single_line
from contacts.services import contact_tag_add
from workflows.actions.base import ActionContext, ActionDefinition, ActionResult, ConfigForm


class TagForm(ConfigForm):
    tag = forms.CharField(max_length=64, validators=[validate_single_line])

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        if not tag:
            raise forms.ValidationError("This field is required.")
        return tag


def run(context: ActionContext) -> ActionResult:
    added = contact_tag_add(contact=context.contact, name=context.config["tag"])
    return ActionResult(output={"tag": context.config["tag"], "changed": added})


DEFINITION = ActionDefinition(
    type="add_tag",
    label="Add tag",
    category="Contacts",
    default_key="add_tag",
    outputs=("tag",),
    form_class=TagForm,
    run=run,
    help_text="Tag the contact (may start workflows triggered by this tag).",
)
