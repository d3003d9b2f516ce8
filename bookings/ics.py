"""Calendar invites (.ics) and "add to Google Calendar" links for a booking.

Times are written in UTC (`DTSTART:20260303T090000Z`), not as local times with a VTIMEZONE:
every client converts UTC to the reader's own zone, and no VTIMEZONE block can drift out of
date with the tz database. The invitee's and the owner's zones only matter in the email
text, which shows both explicitly.

The UID is stable per booking (`<locator>@<SITE_URL host>`), so a reschedule (same UID,
higher SEQUENCE, METHOD:REQUEST) updates the event already in the invitee's calendar and a
cancellation (METHOD:CANCEL) removes it. The booking has no revision counter, so SEQUENCE is
the number of seconds between the booking's creation and the revision (0 for the first
invite): it only ever grows, which is all RFC 5546 asks of it.
"""

from datetime import UTC, datetime
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

import icalendar
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils import timezone as dj_timezone

from bookings.models import Booking

METHOD_REQUEST = "REQUEST"
METHOD_CANCEL = "CANCEL"
METHODS = (METHOD_REQUEST, METHOD_CANCEL)
PRODID = "-//Onceslot//Onceslot bookings//EN"


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def booking_uid(*, booking: Booking) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "onceslot"
    return f"{booking.locator}@{host}"


# The booking's own secret pages, by URL name (bookings:<name>, each takes the token).
LINK_NAMES = ("booking", "cancel", "reschedule", "ics")
# Stands in for the token when the paths are reversed once (a token is base64url, which
# reverse() never escapes, so putting the real one in its place gives reverse()'s answer).
_PLACEHOLDER = "0placeholder0"


@lru_cache(maxsize=16)
def _link_path_parts(script_prefix: str) -> dict[str, tuple[str, str]]:
    parts = {}
    for name in LINK_NAMES:
        head, _, tail = reverse(f"bookings:{name}", kwargs={"token": _PLACEHOLDER}).partition(
            _PLACEHOLDER
        )
        parts[name] = (head, tail)
    return parts


@receiver(setting_changed)
def _forget_link_paths(*, setting: str, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        _link_path_parts.cache_clear()


def booking_paths(*, booking: Booking, token: str | None = None) -> dict[str, str]:
    """Site-relative paths of the booking's own secret pages (anyone holding them can act),
    by name (LINK_NAMES); `token` spares computing booking.token again.

    Every booking answer and email gives them: reversing four URL names per booking cost
    more than the rest of the API's answer, so the paths are reversed once (per script
    prefix) and the token is put in."""
    token = token or booking.token
    return {
        name: f"{head}{token}{tail}"
        for name, (head, tail) in _link_path_parts(get_script_prefix()).items()
    }


def booking_links(*, booking: Booking, token: str | None = None) -> dict[str, str]:
    """booking_paths as absolute URLs (SITE_URL), for emails and API answers."""
    paths = booking_paths(booking=booking, token=token)
    return {name: absolute_url(path) for name, path in paths.items()}


def booking_admin_url(*, booking: Booking) -> str:
    return absolute_url(reverse("admin:bookings_booking_change", args=[booking.pk]))


def booking_sequence(*, booking: Booking, at: datetime | None = None) -> int:
    """SEQUENCE for a revision made at `at` (default now): seconds since creation."""
    if at is None:
        at = booking.cancelled_at or dj_timezone.now()
    return max(0, int((at - booking.created_at).total_seconds()))


def _owner_address(booking: Booking) -> tuple[str, str]:
    owner = booking.calendar.owner
    name = owner.get_full_name()
    email = owner.email
    if not email:
        # iTIP requires an ORGANIZER on REQUEST and CANCEL; with no owner address the
        # product's own sender stands in for it.
        fallback_name, email = parseaddr(settings.DEFAULT_FROM_EMAIL)
        name = name or fallback_name
    return name or owner.get_username(), email


def _description(booking: Booking, *, for_owner: bool) -> str:
    lines = []
    if booking.calendar.description:
        lines += [booking.calendar.description, ""]
    if for_owner:
        lines += [
            f"Invitee: {booking.invitee_name} <{booking.invitee_email}>",
            *([f"Phone: {booking.invitee_phone}"] if booking.invitee_phone else []),
            *([f"Notes: {booking.notes}"] if booking.notes else []),
            f"Manage in the admin: {booking_admin_url(booking=booking)}",
        ]
    else:
        links = booking_links(booking=booking)
        lines += [
            f"Manage your booking: {links['booking']}",
            f"Reschedule: {links['reschedule']}",
            f"Cancel: {links['cancel']}",
        ]
    return "\n".join(lines)


def booking_ics(
    *,
    booking: Booking,
    method: str,
    sequence: int | None = None,
    for_owner: bool = False,
    now: datetime | None = None,
) -> str:
    """The booking as a VCALENDAR with one VEVENT, METHOD:REQUEST or METHOD:CANCEL.

    `for_owner` swaps the invitee's secret manage links in DESCRIPTION for the admin link,
    so the owner's copy never carries the invitee's cancel URL.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    now = now or dj_timezone.now()
    if sequence is None:
        sequence = booking_sequence(booking=booking)

    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)

    event = icalendar.Event()
    event.add("uid", booking_uid(booking=booking))
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("summary", booking.calendar.name)
    event.add("description", _description(booking, for_owner=for_owner))
    if not for_owner:
        event.add("url", booking_links(booking=booking)["booking"])
    cancelled = method == METHOD_CANCEL or booking.status == Booking.Status.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")

    owner_name, owner_email = _owner_address(booking)
    organizer = icalendar.vCalAddress(f"mailto:{owner_email}")
    organizer.params["cn"] = icalendar.vText(owner_name)
    event.add("organizer", organizer)

    attendee = icalendar.vCalAddress(f"mailto:{booking.invitee_email}")
    attendee.params["cn"] = icalendar.vText(booking.invitee_name)
    attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    # The invitee chose this time themselves: the invite is already accepted, no RSVP.
    attendee.params["partstat"] = icalendar.vText("DECLINED" if cancelled else "ACCEPTED")
    attendee.params["rsvp"] = icalendar.vText("FALSE")
    event.add("attendee", attendee)

    cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def _google_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_calendar_url(*, booking: Booking) -> str:
    """An "add to Google Calendar" link (Google's event template URL) in UTC times.

    It carries no management link: the URL goes to Google (and its logs, and the Referer of
    the page it opens), and the event's details are seen by whoever the calendar is shared
    with, while the management token lets anyone cancel or move the booking."""
    params = {
        "action": "TEMPLATE",
        "text": booking.calendar.name,
        "dates": f"{_google_time(booking.start)}/{_google_time(booking.end)}",
        "details": "Manage this booking from your confirmation email.",
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(params)
