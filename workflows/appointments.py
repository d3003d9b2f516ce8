"""The appointment behind an appointment trigger: its custom values ({{ appointment.* }})
and the moments relative waits count from.

Values are computed from the booking row whenever they are used (a step runs, the outbox
renders an email), never stored: they show the appointment as it is then (a reschedule's
new time), and the manage URLs are secrets that must not sit in a row. What is stored is
the booking's id, as `{"appointment": {"booking_id": "<id>"}}` among the enrollment's values.
"""

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bookings.ics import booking_links
from bookings.models import Booking
from workflows import templating
from workflows.models import APPOINTMENT_TRIGGER_TYPES

APPOINTMENT_TRIGGERS = frozenset(APPOINTMENT_TRIGGER_TYPES)
# Booking.source values behind each source a builder filters on.
SOURCES: dict[str, tuple[str, ...]] = {
    "page": ("scheduling_link", "permanent_link", "embed"),
    "one_time_link": ("one_time_link",),
    "api": ("api",),
    "admin": ("staff",),
}
SOURCE_LABELS = {
    "page": "Booking page (scheduling link, permanent link, embed)",
    "one_time_link": "One-time link",
    "api": "API",
    "admin": "Admin (book on behalf)",
}
_SECRET_FIELDS = {"reschedule_url": "reschedule", "cancel_url": "cancel", "ics_url": "ics"}


def source_of(booking_source: str) -> str:
    """The builder's name for a Booking.source ("" for one it does not know)."""
    for name, sources in SOURCES.items():
        if booking_source in sources:
            return name
    return ""


def format_time(moment: datetime, tz_name: str) -> str:
    """ "Tuesday 9 March 2027, 14:30 (Europe/Berlin)": readable in any mail client, with
    the zone named so that nobody has to guess."""
    local = moment.astimezone(ZoneInfo(tz_name))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({tz_name})"


def format_date(moment: datetime, tz_name: str) -> str:
    local = moment.astimezone(ZoneInfo(tz_name))
    return f"{local:%A} {local.day} {local:%B %Y}"


def owner_name(owner) -> str:
    return owner.get_full_name().strip() or owner.get_username()


def appointment_values(booking: Booking, *, redact: bool = False) -> dict[str, str]:
    """Every {{ appointment.* }} value of `booking` (calendar and owner loaded); with
    `redact`, the manage URLs are replaced by a stand-in (texts that are stored)."""
    tz_name = booking.timezone or booking.calendar.timezone
    owner = booking.calendar.owner
    values = {
        "start_time": format_time(booking.start, tz_name),
        "start_date": format_date(booking.start, tz_name),
        "end_time": format_time(booking.end, tz_name),
        "timezone": tz_name,
        "calendar_name": booking.calendar.name,
        "owner_name": owner_name(owner),
        "owner_email": owner.email,
        "status": booking.effective_status,
    }
    if redact:
        values.update({name: f"[appointment {name}]" for name in _SECRET_FIELDS})
    else:
        links = booking_links(booking=booking)
        values.update({name: links[link] for name, link in _SECRET_FIELDS.items()})
    assert set(values) == set(templating.APPOINTMENT_FIELDS)
    return values


def expand(
    values: Mapping[str, Mapping[str, str]],
    *,
    redact: bool = False,
    booking: Booking | None = None,
) -> dict[str, dict[str, str]]:
    """The `appointment` namespace's values computed from its stored booking id (one
    query, none when the caller passes that `booking` with its calendar and owner); a
    booking that is gone leaves the namespace empty, so a text that needs it is refused
    (MissingValue) unless it gives a fallback."""
    stored = values.get(templating.APPOINTMENT_NAMESPACE)
    if stored is None:
        return {}
    booking_id = str(stored.get("booking_id") or "")
    if booking is not None and str(booking.pk) != booking_id:
        booking = None
    if booking is None and booking_id.isdigit():
        booking = (
            Booking.objects.select_related("calendar__owner").filter(pk=int(booking_id)).first()
        )
    if booking is None:
        return {templating.APPOINTMENT_NAMESPACE: {}}
    return {templating.APPOINTMENT_NAMESPACE: appointment_values(booking, redact=redact)}


def stored_values(booking_id: int | None) -> dict[str, dict[str, str]]:
    """What an enrollment keeps of its appointment among its values: the id only."""
    if booking_id is None:
        return {}
    return {templating.APPOINTMENT_NAMESPACE: {"booking_id": str(booking_id)}}
