"""Wait: the step parks with a due time in the database; a periodic task releases it."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from workflows.actions.base import ActionContext, ActionDefinition, ActionResult, ConfigForm

UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
MAX_MINUTES = 365 * 24 * 60


class WaitForm(ConfigForm):
    amount = forms.IntegerField(min_value=1)
    unit = forms.ChoiceField(choices=[(unit, unit.capitalize()) for unit in UNITS])

    def clean(self):
        cleaned = super().clean()
        amount, unit = cleaned.get("amount"), cleaned.get("unit")
        if amount and unit and amount * UNITS[unit] > MAX_MINUTES:
            raise forms.ValidationError("A wait can last at most one year.")
        return cleaned


def duration(config) -> timedelta:
    return timedelta(minutes=int(config["amount"]) * UNITS[config["unit"]])


def run(context: ActionContext) -> ActionResult:
    # From the first start, so a re-run after a crash does not push the release later.
    started = context.step_run.started_at or timezone.now()
    until = started + duration(context.config)
    return ActionResult(output={"until": until.isoformat()}, wait_until=until)


DEFINITION = ActionDefinition(
    type="wait",
    label="Wait",
    category="Flow",
    default_key="wait",
    outputs=(),
    form_class=WaitForm,
    run=run,
    in_transaction=True,
    help_text="Pause this contact for some minutes, hours or days.",
)
