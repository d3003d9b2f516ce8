"""Booking emails: the invitee's confirmation and the owner's notification, via the outbox.

Called by the booking services inside the booking's transaction, so the outbox rows commit
(or roll back) with the booking and delivery starts only after commit; the delivery task
renders them at each attempt (booking_message_render) and never stores the text: it holds
the booking's management URL, a usable token. Each message carries the .ics invite; times are
shown in the invitee's timezone to the invitee and in the calendar's timezone to the owner,
always with the zone's name.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import translation
from django.utils.translation import gettext

from bookings.ics import (
    METHOD_CANCEL,
    METHOD_REQUEST,
    booking_admin_url,
    booking_ics,
    booking_links,
    booking_sequence,
    google_calendar_url,
)
from bookings.models import Booking, OutboxMessage
from bookings.services.outbox import outbox_enqueue_many
from config import i18n
from config.text import one_line, plain

EVENTS = ("confirmed", "cancelled", "rescheduled")
# The outbox renderer of these rows (bookings.services.outbox.RENDERERS).
TEMPLATE = "booking"


def _local(value: datetime, tz_name: str) -> datetime:
    return value.astimezone(ZoneInfo(tz_name))


def format_when(*, start: datetime, end: datetime, tz_name: str) -> str:
    """'Tuesday, 3 March 2026, 09:00-09:30 (Europe/Berlin)' in the given zone, in the active
    language (config.i18n)."""
    start, end = _local(start, tz_name), _local(end, tz_name)
    day = i18n.format_day(start.date())
    end_text = i18n.format_time(end)
    if end.date() != start.date():
        end_text = f"{i18n.format_day(end.date())}, {end_text}"
    return f"{day}, {i18n.format_time(start)}\N{EN DASH}{end_text} ({tz_name})"


def _short_when(*, start: datetime, tz_name: str) -> str:
    start = _local(start, tz_name)
    return f"{i18n.format_day(start.date())}, {i18n.format_time(start)} ({tz_name})"


def recipient_language(*, booking: Booking, recipient: str) -> str:
    """The invitee reads their emails in the language they booked in; the owner (staff) in
    the site's."""
    if recipient == "invitee":
        return i18n.normalize(booking.language) or settings.LANGUAGE_CODE
    return settings.LANGUAGE_CODE


def outbox_key_prefixes(*, booking: Booking) -> tuple[str, ...]:
    """The starts of the outbox keys of this booking's emails: by its locator, and by its id
    for rows recorded before keys named the locator."""
    return (f"booking:{booking.locator}:", f"booking:{booking.pk}:")


def _key(booking: Booking, event: str, sequence: int, recipient: str) -> str:
    # The locator, not the id: it names nothing secret (the links need the token, an HMAC
    # over it), and keys written before the id existed used it too.
    if event == "rescheduled":
        # One booking may be moved many times, even back to an earlier time: the new start
        # and the revision together name this move.
        start = booking.start.astimezone(UTC)
        return (
            f"booking:{booking.locator}:rescheduled:{start:%Y%m%dT%H%M%SZ}:{sequence}:{recipient}"
        )
    return f"booking:{booking.locator}:{event}:{recipient}"


def _subject(*, booking: Booking, event: str, recipient: str, tz_name: str) -> str:
    with translation.override(recipient_language(booking=booking, recipient=recipient)):
        when = _short_when(start=booking.start, tz_name=tz_name)
        if recipient == "invitee":
            text = {
                "confirmed": gettext("Confirmed: %(what)s on %(when)s"),
                "cancelled": gettext("Cancelled: %(what)s on %(when)s"),
                "rescheduled": gettext("Moved: %(what)s now on %(when)s"),
            }[event] % {"what": booking.calendar.name, "when": when}
        else:
            prefix = {"confirmed": "New booking", "cancelled": "Cancelled", "rescheduled": "Moved"}
            joiner = ", now " if event == "rescheduled" else ", "
            text = f"{prefix[event]}: {booking.invitee_name}{joiner}{when}"
    # one_line: a header cannot hold a line break (rows from before names refused them).
    return one_line(text)[:300]


def _render_text(template_name: str, context: dict) -> str:
    """A text email: no HTML escaping (it is not HTML), and a plain str, not the SafeString
    a template gives: nothing an invitee typed may pass later as trusted markup (the admin's
    preview, a template that includes it)."""
    template = get_template(template_name).template
    return plain(template.render(Context(context, autoescape=False)))


def _render(name: str, context: dict) -> tuple[str, str]:
    return (
        _render_text(f"emails/{name}.txt", context),
        render_to_string(f"emails/{name}.html", context),
    )


def booking_notify(*, booking: Booking, event: str) -> list[int]:
    """Record the event's emails (invitee, and owner when they have an address) in the
    outbox, in the caller's transaction; one task delivers them after commit. Returns the
    outbox row ids.

    The rows carry key, recipient, subject and the event's own data (times, status,
    revision) and are rendered by the delivery task (see bookings.services.outbox): a
    booking held under its calendar's lock pays for one INSERT, not for templates and
    invites. The data is a snapshot, so an email rendered after a later change of the
    booking still tells what this event said (the times it confirmed, its SEQUENCE)."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, got {event!r}")
    calendar = booking.calendar
    owner = calendar.owner
    method = METHOD_CANCEL if event == "cancelled" else METHOD_REQUEST
    sequence = 0 if event == "confirmed" else booking_sequence(booking=booking)
    snapshot = {
        "locator": booking.locator,
        "event": event,
        "sequence": sequence,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "cancel_reason": booking.cancel_reason,
    }
    recipients = [("invitee", booking.invitee_email, booking.timezone)]
    if owner.email:
        recipients.append(("owner", owner.email, calendar.timezone))
    return outbox_enqueue_many(
        messages=[
            OutboxMessage(
                key=_key(booking, event, sequence, recipient),
                to=to,
                subject=_subject(booking=booking, event=event, recipient=recipient, tz_name=tz),
                ics_method=method,
                template=TEMPLATE,
                context={**snapshot, "recipient": recipient},
            )
            for recipient, to, tz in recipients
        ]
    )


def booking_message_render(message: OutboxMessage) -> dict[str, str]:
    """The bodies and .ics of a booking email recorded by booking_notify (the outbox's
    renderer for template "booking"). Raises Booking.DoesNotExist if the booking is gone."""
    data = message.context
    # Rows recorded before the snapshot named the locator hold the booking's id.
    found = {"locator": data["locator"]} if "locator" in data else {"pk": data["booking"]}
    booking = Booking.objects.select_related("calendar__owner").get(**found)
    # The event's own times and state, whatever happened to the booking since.
    event = data["event"]
    booking.start = datetime.fromisoformat(data["start"])
    booking.end = datetime.fromisoformat(data["end"])
    booking.status = Booking.Status.CANCELLED if event == "cancelled" else Booking.Status.CONFIRMED
    booking.cancel_reason = data.get("cancel_reason", "")
    calendar = booking.calendar
    owner = calendar.owner
    method = message.ics_method or METHOD_REQUEST
    for_owner = data["recipient"] == "owner"

    context = {
        "booking": booking,
        "calendar": calendar,
        "event": event,
        "owner": owner,
        "owner_name": owner.get_full_name() or owner.get_username(),
    }
    with translation.override(recipient_language(booking=booking, recipient=data["recipient"])):
        if for_owner:
            name = "booking_owner"
            context["when"] = format_when(
                start=booking.start, end=booking.end, tz_name=calendar.timezone
            )
            context["invitee_when"] = format_when(
                start=booking.start, end=booking.end, tz_name=booking.timezone
            )
            context["admin_url"] = booking_admin_url(booking=booking)
        else:
            name = "booking_invitee"
            context["when"] = format_when(
                start=booking.start, end=booking.end, tz_name=booking.timezone
            )
            context["links"] = booking_links(booking=booking)
            context["google_url"] = google_calendar_url(booking=booking)
        text, html = _render(name, context)
    ics = booking_ics(
        booking=booking,
        method=method,
        sequence=data["sequence"],
        for_owner=for_owner,
        now=message.created_at,
    )
    return {"body_text": text, "body_html": html, "ics": ics}
