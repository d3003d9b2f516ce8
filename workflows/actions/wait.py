"""Wait: the step parks with a due time in the database; a periodic task releases it.

A plain wait counts from the step's first start. A wait relative to the appointment
(`relative_to` appointment_start/appointment_end, `direction` before/after) counts from the
enrollment's booking as it is when the step runs, and a reschedule moves a parked one
(workflows/lifecycle.py). A moment already past takes the builder's `if_past`: go on at
once (continue) or stop the contact's run here (stop).
"""

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from workflows.actions.base import (
    ActionContext,
    ActionDefinition,
    ActionFailed,
    ActionResult,
    ConfigForm,
)

UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
MAX_MINUTES = 365 * 24 * 60
ANCHORS = {"appointment_start": "Appointment start", "appointment_end": "Appointment end"}
DIRECTIONS = {"before": "Before", "after": "After"}
IF_PAST = {
    "continue": "Continue at once",
    "stop": "Stop the workflow for this contact",
}
PAST_STOP_REASON = "the appointment time had passed"


class WaitForm(ConfigForm):
    amount = forms.IntegerField(min_value=0)
    unit = forms.ChoiceField(choices=[(unit, unit.capitalize()) for unit in UNITS])
    relative_to = forms.ChoiceField(
        required=False,
        choices=[("", "This step starts (plain wait)"), *ANCHORS.items()],
        label="Counted from",
        help_text="Appointment triggers only: wait until a time around the appointment.",
    )
    direction = forms.ChoiceField(required=False, choices=[("", "---------"), *DIRECTIONS.items()])
    if_past = forms.ChoiceField(
        required=False,
        choices=[("", "---------"), *IF_PAST.items()],
        label="If that time has passed",
        help_text="Empty: continue at once.",
    )

    def clean(self):
        cleaned = super().clean()
        amount, unit = cleaned.get("amount"), cleaned.get("unit")
        if amount is not None and unit and amount * UNITS[unit] > MAX_MINUTES:
            raise forms.ValidationError("A wait can last at most one year.")
        if cleaned.get("relative_to"):
            if not cleaned.get("direction"):
                self.add_error("direction", "Say whether to wait until before or after it.")
        else:
            if amount == 0:
                self.add_error("amount", "Ensure this value is greater than or equal to 1.")
            for name in ("direction", "if_past"):
                if cleaned.get(name):
                    self.add_error(name, "Only for a wait counted from the appointment.")
        return cleaned


def duration(config) -> timedelta:
    return timedelta(minutes=int(config["amount"]) * UNITS[config["unit"]])


def is_relative(config) -> bool:
    return bool(config.get("relative_to"))


def relative_until(config, *, start: datetime, end: datetime) -> datetime:
    """The moment a relative wait ends for an appointment from `start` to `end`."""
    anchor = start if config["relative_to"] == "appointment_start" else end
    sign = -1 if config.get("direction") == "before" else 1
    return anchor + sign * duration(config)


def run(context: ActionContext) -> ActionResult:
    config = context.config
    if not is_relative(config):
        # From the first start, so a re-run after a crash does not push the release later.
        started = context.step_run.started_at or timezone.now()
        until = started + duration(config)
        return ActionResult(output={"until": until.isoformat()}, wait_until=until)
    booking = context.enrollment.booking
    if booking is None:
        raise ActionFailed("The appointment this wait counts from no longer exists.")
    until = relative_until(config, start=booking.start, end=booking.end)
    output = {"until": until.isoformat()}
    if until <= timezone.now() and config.get("if_past") == "stop":
        return ActionResult(output=output, stop_reason=PAST_STOP_REASON)
    # Past and "continue": the step succeeds at once (wait_until in the past).
    return ActionResult(output=output, wait_until=until)


DEFINITION = ActionDefinition(
    type="wait",
    label="Wait",
    category="Flow",
    default_key="wait",
    outputs=(),
    form_class=WaitForm,
    run=run,
    in_transaction=True,
    help_text=(
        "Pause this contact for some minutes, hours or days, or until a time before or "
        "after the appointment."
    ),
)
