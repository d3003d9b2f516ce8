"""Generate One-Time Booking Link (category Appointments): the Share panel's service, once
per step run."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from bookings.services import one_time_links
from calendars.models import Calendar
from workflows.actions.base import (
    ActionContext,
    ActionDefinition,
    ActionFailed,
    ActionResult,
    ConfigForm,
)

MAX_EXPIRY_HOURS = 365 * 24


class GenerateOneTimeLinkForm(ConfigForm):
    calendar = forms.ModelChoiceField(
        queryset=Calendar.objects.none(), help_text="The link books one appointment here."
    )
    expires_in_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_HOURS,
        label="Expires after (hours)",
        help_text="Empty: the link stays valid until used.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_calendar_choices()


def format_expiry(expires_at, calendar: Calendar) -> str:
    if expires_at is None:
        return "never"
    local = expires_at.astimezone(ZoneInfo(calendar.timezone))
    return local.strftime("%Y-%m-%d %H:%M %Z")


def run(context: ActionContext) -> ActionResult:
    calendar = Calendar.objects.filter(pk=context.config.get("calendar")).first()
    if calendar is None:
        raise ActionFailed("The calendar of this action no longer exists.")
    if not calendar.is_active:
        raise ActionFailed(f"The calendar “{calendar.name}” is inactive.")
    expires_at = None
    hours = context.config.get("expires_in_hours")
    if hours:
        # A re-run finds the link made before (same idempotency key) and keeps its expiry.
        expires_at = timezone.now() + timedelta(hours=int(hours))
    try:
        link = one_time_links.one_time_link_generate(
            calendar=calendar,
            created_by_process=context.process_label,
            contact=context.contact,
            label=f"Workflow: {context.enrollment.workflow.name}"[:200],
            expires_at=expires_at,
            idempotency_key=context.idempotency_key,
        )
    except ValidationError as exc:
        raise ActionFailed(f"The link could not be made: {exc}") from exc
    return ActionResult(
        output={
            "url": one_time_links.one_time_link_url(link=link),
            "expires_at": format_expiry(link.expires_at, calendar),
            "calendar_name": calendar.name,
            "link_id": link.pk,
        }
    )


DEFINITION = ActionDefinition(
    type="generate_one_time_link",
    label="Generate One-Time Booking Link",
    category="Appointments",
    default_key="link",
    outputs=("url", "expires_at", "calendar_name"),
    form_class=GenerateOneTimeLinkForm,
    run=run,
    in_transaction=True,
    help_text="A link that books exactly one appointment, made for this contact.",
)
