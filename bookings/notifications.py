"""Booking emails: the invitee's confirmation and the owner's notification, via the outbox.

Called by the booking services inside the booking's transaction, so the outbox rows commit
(or roll back) with the booking and delivery starts only after commit. Each message carries
the .ics invite; times are shown in the invitee's timezone to the invitee and in the
calendar's timezone to the owner, always with the zone's name.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string

from bookings.ics import (
    METHOD_CANCEL,
    METHOD_REQUEST,
    booking_admin_url,
    booking_ics,
    booking_links,
    booking_sequence,
    google_calendar_url,
)
from bookings.models import Booking
from bookings.services.outbox import outbox_enqueue

EVENTS = ("confirmed", "cancelled", "rescheduled")


def _local(value: datetime, tz_name: str) -> datetime:
    return value.astimezone(ZoneInfo(tz_name))


def format_when(*, start: datetime, end: datetime, tz_name: str) -> str:
    """'Tuesday, 3 March 2026, 09:00-09:30 (Europe/Berlin)' in the given zone."""
    start, end = _local(start, tz_name), _local(end, tz_name)
    day = f"{start:%A}, {start.day} {start:%B %Y}"
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end.day} {end:%B} {end:%H:%M}"
    return f"{day}, {start:%H:%M}\N{EN DASH}{end_text} ({tz_name})"


def _short_when(*, start: datetime, tz_name: str) -> str:
    start = _local(start, tz_name)
    return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M} ({tz_name})"


def _key(booking: Booking, event: str, sequence: int, recipient: str) -> str:
    if event == "rescheduled":
        # One booking may be moved many times, even back to an earlier time: the new start
        # and the revision together name this move.
        start = booking.start.astimezone(UTC)
        return f"booking:{booking.pk}:rescheduled:{start:%Y%m%dT%H%M%SZ}:{sequence}:{recipient}"
    return f"booking:{booking.pk}:{event}:{recipient}"


def _subject(*, booking: Booking, event: str, recipient: str, tz_name: str) -> str:
    when = _short_when(start=booking.start, tz_name=tz_name)
    if recipient == "invitee":
        what = booking.calendar.name
        prefix = {"confirmed": "Confirmed", "cancelled": "Cancelled", "rescheduled": "Moved"}
        joiner = " now on " if event == "rescheduled" else " on "
    else:
        what = booking.invitee_name
        prefix = {"confirmed": "New booking", "cancelled": "Cancelled", "rescheduled": "Moved"}
        joiner = ", now " if event == "rescheduled" else ", "
    return f"{prefix[event]}: {what}{joiner}{when}"[:300]


def _render(name: str, context: dict) -> tuple[str, str]:
    return (
        render_to_string(f"emails/{name}.txt", context),
        render_to_string(f"emails/{name}.html", context),
    )


def booking_notify(*, booking: Booking, event: str) -> None:
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, got {event!r}")
    calendar = booking.calendar
    owner = calendar.owner
    method = METHOD_CANCEL if event == "cancelled" else METHOD_REQUEST
    sequence = 0 if event == "confirmed" else booking_sequence(booking=booking)

    base = {"booking": booking, "calendar": calendar, "event": event, "owner": owner}
    owner_name = owner.get_full_name() or owner.get_username()

    invitee_context = {
        **base,
        "owner_name": owner_name,
        "when": format_when(start=booking.start, end=booking.end, tz_name=booking.timezone),
        "links": booking_links(booking=booking),
        "google_url": google_calendar_url(booking=booking),
    }
    text, html = _render("booking_invitee", invitee_context)
    outbox_enqueue(
        key=_key(booking, event, sequence, "invitee"),
        to=booking.invitee_email,
        subject=_subject(
            booking=booking, event=event, recipient="invitee", tz_name=booking.timezone
        ),
        body_text=text,
        body_html=html,
        ics=booking_ics(booking=booking, method=method, sequence=sequence),
        ics_method=method,
    )

    if not owner.email:
        return
    owner_context = {
        **base,
        "owner_name": owner_name,
        "when": format_when(start=booking.start, end=booking.end, tz_name=calendar.timezone),
        "invitee_when": format_when(start=booking.start, end=booking.end, tz_name=booking.timezone),
        "admin_url": booking_admin_url(booking=booking),
    }
    text, html = _render("booking_owner", owner_context)
    outbox_enqueue(
        key=_key(booking, event, sequence, "owner"),
        to=owner.email,
        subject=_subject(
            booking=booking, event=event, recipient="owner", tz_name=calendar.timezone
        ),
        body_text=text,
        body_html=html,
        ics=booking_ics(booking=booking, method=method, sequence=sequence, for_owner=True),
        ics_method=method,
    )
