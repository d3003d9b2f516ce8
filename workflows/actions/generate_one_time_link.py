"""Generate One-Time Booking Link (category Appointments): the Share panel's service, once
per step run.

The link's URL is a usable token, so it is never stored: the step's output and the
enrollment's values keep the link's id, and `{{ <key>.url }}` is computed from it each time
values are used (expand_outputs). The token is an HMAC of the link row under SECRET_KEY, so
the URL is the same every time.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from bookings.models import OneTimeLink
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
MAX_BOOKABLE_DAYS = 730


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
    max_uses = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=OneTimeLink.MAX_USES,
        label="Uses",
        help_text="How many bookings the link takes. Empty: one.",
    )
    bookable_within_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_BOOKABLE_DAYS,
        label="Bookable within the next N days",
        help_text="Counted from the day the step runs (today included), in the calendar's "
        "timezone. Empty: any date the calendar offers.",
    )
    lock_to_contact = forms.BooleanField(
        required=False,
        label="Only the contact's email can book",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_calendar_choices()

    def clean_lock_to_contact(self) -> bool | None:
        # Unticked is left out of the stored config, like every other empty option.
        return self.cleaned_data["lock_to_contact"] or None


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
    bookable_from = bookable_until = None
    days = context.config.get("bookable_within_days")
    if days:
        bookable_from = timezone.now().astimezone(ZoneInfo(calendar.timezone)).date()
        bookable_until = bookable_from + timedelta(days=int(days) - 1)
    try:
        link = one_time_links.one_time_link_generate(
            calendar=calendar,
            created_by_process=context.process_label,
            source=OneTimeLink.Source.WORKFLOW,
            contact=context.contact,
            label=f"Workflow: {context.enrollment.workflow.name}"[:200],
            expires_at=expires_at,
            idempotency_key=context.idempotency_key,
            max_uses=int(context.config.get("max_uses") or 1),
            bookable_from=bookable_from,
            bookable_until=bookable_until,
            # A contact-less enrollment cannot lock (the service would refuse it).
            lock_to_contact=bool(context.config.get("lock_to_contact"))
            and context.contact is not None,
        )
    except ValidationError as exc:
        raise ActionFailed(f"The link could not be made: {exc}") from exc
    return ActionResult(
        output={
            "link_id": link.pk,
            "expires_at": format_expiry(link.expires_at, calendar),
            "calendar_name": calendar.name,
        }
    )


def redacted_url(link_id: object) -> str:
    return f"[one-time link {link_id}]"


def expand_outputs(
    group: dict[str, dict[str, str]], *, redact: bool = False
) -> dict[str, dict[str, str]]:
    """Add `url` to each step's stored outputs, from its `link_id` (one query for all). A
    link that is gone gets no `url`, so a text that needs it is refused (MissingValue)
    rather than sent with a hole in it."""
    ids = {str(outputs.get("link_id")) for outputs in group.values() if outputs.get("link_id")}
    links = {}
    if ids and not redact:
        valid = [int(link_id) for link_id in ids if link_id.isdigit()]
        links = {str(link.pk): link for link in OneTimeLink.objects.filter(pk__in=valid)}
    expanded = {}
    for namespace, outputs in group.items():
        outputs = dict(outputs)
        link_id = str(outputs.get("link_id") or "")
        if redact and link_id:
            outputs["url"] = redacted_url(link_id)
        elif link_id in links:
            outputs["url"] = one_time_links.one_time_link_url(link=links[link_id])
        expanded[namespace] = outputs
    return expanded


DEFINITION = ActionDefinition(
    type="generate_one_time_link",
    label="Generate One-Time Booking Link",
    category="Appointments",
    default_key="link",
    outputs=("url", "expires_at", "calendar_name"),
    stored_outputs=("link_id",),
    expand_outputs=expand_outputs,
    form_class=GenerateOneTimeLinkForm,
    run=run,
    in_transaction=True,
    help_text="A link that books one appointment (or as many as its uses), made for this contact.",
)
