"""Bookings in the owner's own calendar: written back to their CalDAV write calendar, and
the private ICS feed of a calendar's confirmed bookings.

One event shape for both: summary with the invitee's and the calendar's names, the notes and
a link to the booking in the admin (never the invitee's management link), and a stable UID
made from the booking's id (`onceslot-booking-<id>@<site host>`), which reveals no token.
The UID ends with the site's host, so the sync (calendars/connections.py) skips the event:
a booking written back does not block its own time twice.

Write-back is `booking_calendar_push`, run by bookings.tasks.push_booking_to_calendar after
a booking is confirmed, rescheduled or cancelled: it PUTs the event at a fixed name (a
second run replaces it with the same content: one event) or deletes it. The booking records
which calendar holds its event (`Booking.event_calendar`), so a cancel or a move reaches it
there; when the owner picks another write calendar, their upcoming bookings' events move to
it, and past ones stay where they were written.
"""

from datetime import UTC, datetime, timedelta

import icalendar
from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone as dj_timezone

from bookings.ics import PRODID, booking_admin_url
from bookings.models import Booking
from bookings.signals import booking_cancelled, booking_confirmed, booking_rescheduled
from calendars import remote
from calendars.connections import own_uid_suffix, write_calendar_for
from calendars.models import Calendar, ConnectedCalendar
from calendars.signals import write_calendar_changed

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


def _access(target: ConnectedCalendar, *, booking_id: int) -> dict[str, str]:
    connection = target.connection
    return {
        "url": connection.url,
        "username": connection.username,
        "password": connection.password,
        "calendar_url": target.url,
        "name": event_name(booking_id=booking_id),
    }


def _push_once(booking: Booking, *, write: ConnectedCalendar | None) -> str:
    held = booking.event_calendar
    if booking.status != Booking.Status.CONFIRMED:
        if held is None:
            return "no event"
        remote.caldav_delete(**_access(held, booking_id=booking.pk))
        target, done = None, "deleted"
    else:
        # With no write calendar any more, a held event stays where it is and is still kept
        # up to date; a new write calendar takes it over (the old copy goes).
        target = write or held
        if target is None:
            return "no write calendar"
        if held is not None and held.pk != target.pk:
            remote.caldav_delete(**_access(held, booking_id=booking.pk))
        ics = _wrap([booking_event(booking=booking)])
        remote.caldav_put(**_access(target, booking_id=booking.pk), ics=ics)
        done = "written" if held is None or held.pk == target.pk else "moved"
    Booking.objects.filter(pk=booking.pk).update(event_calendar=target)
    return done


def booking_calendar_push(*, booking_id: int) -> str:
    """Make the owner's calendars match the booking: its event in the write calendar
    (confirmed) or in none (cancelled). Returns what was done. remote.RemoteError on failure
    (the task retries); safe to run any number of times.

    No lock is held over the remote calls (a cancel must not wait on a CalDAV server):
    when the booking or the write calendar changed while this run talked to the server, it
    goes again with what is stored now, so runs that race still end on the last state."""
    done, seen = "gone", None
    for _ in range(3):
        booking = (
            Booking.objects.select_related("calendar", "event_calendar__connection")
            .filter(pk=booking_id)
            .first()
        )
        if booking is None:
            return done
        write = write_calendar_for(owner_id=booking.calendar.owner_id)
        state = (booking.status, booking.start, booking.end, write and write.pk)
        if state == seen:
            return done
        done, seen = _push_once(booking, write=write), state
    return done


def booking_event_remove(*, event_calendar_id: int, booking_id: int) -> str:
    """Delete the event of a booking whose row was deleted (a superuser's delete in the
    admin) from the calendar that held it: the ids are all that is left.
    remote.RemoteError on failure; safe to run any number of times."""
    held = (
        ConnectedCalendar.objects.select_related("connection").filter(pk=event_calendar_id).first()
    )
    if held is None:
        return "no event"  # its connection was removed meanwhile
    remote.caldav_delete(**_access(held, booking_id=booking_id))
    return "deleted"


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
def _booking_changed(sender, *, signal, booking_id: int, calendar_id: int, **kwargs) -> None:
    # Sent after commit (config/signals.py). Only owners with a write calendar get a task,
    # so bookings of everyone else cost no broker round trip; a cancel or a move also
    # reaches an event written before the owner stopped writing bookings anywhere.
    writes = ConnectedCalendar.objects.filter(owner__calendars__id=calendar_id, write=True)
    if writes.exists() or (
        signal is not booking_confirmed
        and Booking.objects.filter(pk=booking_id, event_calendar__isnull=False).exists()
    ):
        from bookings.tasks import push_booking_to_calendar

        push_booking_to_calendar.delay(booking_id)


@receiver(pre_delete, sender=Booking, dispatch_uid="calendar-write-back-deleted")
def _booking_deleted(sender, instance: Booking, **kwargs) -> None:
    # From the row, not the instance, which may predate the push that recorded the event
    # (deletes are rare: one query each is fine).
    held = Booking.objects.filter(pk=instance.pk).values_list("event_calendar_id", flat=True)
    event_calendar_id = held.first()
    if event_calendar_id is None:
        return
    from bookings.tasks import remove_deleted_booking_event

    args = (event_calendar_id, instance.pk)
    transaction.on_commit(lambda: remove_deleted_booking_event.delay(*args), robust=True)


@receiver(write_calendar_changed, dispatch_uid="calendar-write-back-moved")
def _write_calendar_changed(sender, *, owner_id: int, **kwargs) -> None:
    # The owner's upcoming bookings follow them to the new write calendar; past ones stay
    # where they were written.
    from bookings.tasks import push_booking_to_calendar

    upcoming = Booking.objects.filter(
        calendar__owner_id=owner_id, status=Booking.Status.CONFIRMED, end__gt=dj_timezone.now()
    )
    for booking_id in upcoming.values_list("pk", flat=True).iterator():
        push_booking_to_calendar.delay(booking_id)
