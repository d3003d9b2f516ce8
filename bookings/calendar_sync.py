"""Bookings in the owner's own calendar: written back to their CalDAV write calendar, and
the private ICS feed of a calendar's confirmed bookings.

One event shape for both: summary with the invitee's and the calendar's names, the notes and
a link to the booking in the admin (never the invitee's management link), and a stable UID
made from the booking's id (`onceslot-booking-<id>@<site host>`), which reveals no token.
The UID ends with the site's host, so the sync (calendars/connections.py) skips the event:
a booking written back does not block its own time twice.

Write-back is `booking_calendar_push`, run by bookings.tasks.push_booking_to_calendar after
a booking is confirmed, rescheduled or cancelled: it PUTs the event at a fixed name (a
second run replaces it with the same content: one event) or deletes it.
"""

from datetime import UTC, datetime, timedelta

import icalendar
from django.dispatch import receiver
from django.utils import timezone as dj_timezone

from bookings.ics import PRODID, booking_admin_url
from bookings.models import Booking
from bookings.signals import booking_cancelled, booking_confirmed, booking_rescheduled
from calendars import remote
from calendars.connections import own_uid_suffix, write_calendar_for
from calendars.models import Calendar, ConnectedCalendar

# The feed shows this much of the past (with everything ahead).
FEED_PAST = timedelta(days=90)


def event_name(*, booking_id: int) -> str:
    """The event's resource name in the write calendar, and its UID's first part."""
    return f"onceslot-booking-{booking_id}"


def booking_event_uid(*, booking: Booking) -> str:
    return event_name(booking_id=booking.pk) + own_uid_suffix()


def booking_event(*, booking: Booking, now: datetime | None = None) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", booking_event_uid(booking=booking))
    event.add("dtstamp", (now or dj_timezone.now()).astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("summary", f"{booking.invitee_name} · {booking.calendar.name}")
    lines = [f"Invitee: {booking.invitee_name} <{booking.invitee_email}>"]
    if booking.invitee_phone:
        lines.append(f"Phone: {booking.invitee_phone}")
    if booking.notes:
        lines += ["", booking.notes, ""]
    lines.append(f"Booking in Onceslot: {booking_admin_url(booking=booking)}")
    event.add("description", "\n".join(lines))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def _wrap(events: list[icalendar.Event], *, name: str = "") -> str:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("x-wr-calname", name)
    for event in events:
        cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def booking_calendar_push(*, booking_id: int) -> str:
    """Make the owner's write calendar match the booking: its event present (confirmed) or
    absent (cancelled, or gone). Returns what was done. remote.RemoteError on failure (the
    task retries); safe to run any number of times."""
    booking = Booking.objects.select_related("calendar").filter(pk=booking_id).first()
    owner_id = booking.calendar.owner_id if booking is not None else None
    if owner_id is None:
        return "gone"
    target = write_calendar_for(owner_id=owner_id)
    if target is None:
        return "no write calendar"
    connection = target.connection
    access = {
        "url": connection.url,
        "username": connection.username,
        "password": connection.password,
        "calendar_url": target.url,
        "name": event_name(booking_id=booking.pk),
    }
    if booking.status != Booking.Status.CONFIRMED:
        remote.caldav_delete(**access)
        return "deleted"
    remote.caldav_put(**access, ics=_wrap([booking_event(booking=booking)]))
    return "written"


def calendar_feed(*, calendar: Calendar, now: datetime | None = None) -> str:
    """The calendar's confirmed bookings (from FEED_PAST ago on) as one VCALENDAR."""
    now = now or dj_timezone.now()
    bookings = (
        Booking.objects.select_related("calendar")
        .filter(calendar=calendar, status=Booking.Status.CONFIRMED, end__gte=now - FEED_PAST)
        .order_by("start", "pk")
    )
    return _wrap([booking_event(booking=b, now=now) for b in bookings], name=calendar.name)


@receiver(booking_confirmed, dispatch_uid="calendar-write-back-confirmed")
@receiver(booking_rescheduled, dispatch_uid="calendar-write-back-rescheduled")
@receiver(booking_cancelled, dispatch_uid="calendar-write-back-cancelled")
def _booking_changed(sender, *, booking_id: int, calendar_id: int, **kwargs) -> None:
    # Sent after commit (config/signals.py). Only owners with a write calendar get a task,
    # so bookings of everyone else cost no broker round trip.
    if ConnectedCalendar.objects.filter(owner__calendars__id=calendar_id, write=True).exists():
        from bookings.tasks import push_booking_to_calendar

        push_booking_to_calendar.delay(booking_id)
