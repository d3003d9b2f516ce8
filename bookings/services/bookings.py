"""Booking writes: create, cancel, reschedule. Every channel (pages, API, admin, one-time
links, workflows) goes through these. Field errors (ValidationError) use the names of the
booking form and API body: start, name, email, phone, notes, timezone, consent.

Lock order and why the calendar's row is the lock: docs/architecture.md, "The booking path".
"""

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from bookings import signals
from bookings.models import Booking, OneTimeLink
from bookings.selectors import calendar_busy
from calendars import availability
from calendars.models import Calendar
from calendars.selectors import calendar_rules_cached
from config.signals import send_on_commit
from contacts.models import Contact
from contacts.services import contact_upsert, split_name

_DAY = timedelta(days=1)
# booking_window_days is at most 730 (Calendar's validator), plus the margin _check_reach
# gives it.
_LONGEST_REACH = timedelta(days=730 + 2)
SEAT_CONSTRAINT = "booking_one_confirmed_per_seat"
# SQLite names the columns instead of the constraint.
_SQLITE_SEAT_COLUMNS = "bookings_booking.calendar_id, bookings_booking.start, bookings_booking.seat"

# What booking_create's full_clean leaves alone: what the service itself sets (status,
# end from start and duration, the seat, random locator and nonce, times), and related rows
# already in hand. It validates what callers pass: the invitee's input and the source.
_NOT_INPUT = [
    "seat",
    "contact",
    "calendar",
    "created_by",
    "one_time_link",
    "end",
    "status",
    "locator",
    "nonce",
    "created_at",
    "cancelled_at",
    "cancel_reason",
]

# Model field -> the name the invitee typed it under (form field, API body key).
_INPUT_NAMES = {
    "invitee_name": "name",
    "invitee_email": "email",
    "invitee_phone": "phone",
    "notes": "notes",
    "timezone": "timezone",
    "start": "start",
}


class BookingError(Exception):
    """A refusal the invitee can act on (pick another time)."""


class SlotUnavailable(BookingError):
    pass


class CalendarInactive(SlotUnavailable):
    """The calendar stopped taking bookings (read under its lock)."""


TAKEN_MESSAGE = "That time is not available (it may just have been taken). Pick another time."


def booking_create(
    *,
    calendar: Calendar,
    start: datetime,
    name: str,
    email: str,
    timezone: str,
    source: str,
    phone: str = "",
    notes: str = "",
    consent: bool = False,
    one_time_link: OneTimeLink | None = None,
    created_by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book `start` on `calendar` for the invitee, or raise SlotUnavailable (the time is not
    free; CalendarInactive when the calendar stopped taking bookings) or ValidationError.

    `one_time_link`: the link this booking consumes, already claimed by the caller in the
    same transaction (one_time_link_book). The confirmation emails go to the outbox and
    `booking_confirmed` is sent after commit."""
    start = _checked_start(start)
    now = now or dj_timezone.now()

    # Beyond any calendar's reach: refused before any date arithmetic. The calendar's own
    # window is checked below, on the locked row (the caller's copy may be older).
    if not now - _DAY <= start <= now + _LONGEST_REACH:
        raise SlotUnavailable(TAKEN_MESSAGE)
    with transaction.atomic():
        booking = Booking(
            calendar=calendar,
            start=start,
            end=start + timedelta(minutes=calendar.duration_minutes),
            status=Booking.Status.CONFIRMED,
            source=source,
            invitee_name=name.strip(),
            invitee_email=email.strip(),
            invitee_phone=phone.strip(),
            notes=notes.strip(),
            timezone=timezone,
            created_by=created_by,
            one_time_link=one_time_link,
        )
        # Input errors first: a bad email should say so even when the time is also taken.
        _full_clean(booking)
        calendar = _lock_calendar(calendar)
        # Asked of the locked row, not of the caller's copy, which may be older.
        if calendar.requires_consent and not consent:
            raise ValidationError({"consent": "Please give your consent to book this calendar."})
        _check_reach(calendar=calendar, start=start, now=now)
        booking.calendar = calendar
        booking.end = start + timedelta(minutes=calendar.duration_minutes)
        booking.seat = _free_seat(calendar=calendar, start=start, now=now)
        # Inside the transaction: a booking refused below takes its new contact with it.
        first_name, last_name = split_name(booking.invitee_name)
        booking.contact, _ = contact_upsert(
            owner=calendar.owner,
            email=booking.invitee_email,
            origin=Contact.Origin.BOOKING,
            first_name=first_name,
            last_name=last_name,
            phone=booking.invitee_phone,
        )
        try:
            booking.save(force_insert=True)
        except IntegrityError as exc:
            _raise_if_seat_taken(exc)
            raise
        _notify(booking=booking, event="confirmed")
        _send_on_commit(
            signals.booking_confirmed,
            booking_id=booking.pk,
            calendar_id=calendar.pk,
            contact_id=booking.contact_id,
            source=booking.source,
        )
    return booking


def booking_cancel(
    *, booking: Booking, reason: str = "", by: AbstractBaseUser | None = None
) -> Booking:
    """Cancel and free the slot at once. Cancelling a cancelled booking changes nothing and
    sends nothing (a double click, a retried request)."""
    with transaction.atomic():
        # The calendar's row first, as in every booking write (the lock order): the cancel
        # moves the calendar's bookings_version on (bookings/slot_versions.py).
        _lock_calendar_row(booking.calendar_id)
        locked = Booking.objects.select_for_update().get(pk=booking.pk)
        if locked.status == Booking.Status.CANCELLED:
            return locked
        locked.status = Booking.Status.CANCELLED
        locked.cancelled_at = dj_timezone.now()
        locked.cancel_reason = reason.strip()[:500]
        locked.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        _notify(booking=locked, event="cancelled")
        _send_on_commit(
            signals.booking_cancelled,
            booking_id=locked.pk,
            calendar_id=locked.calendar_id,
            contact_id=locked.contact_id,
        )
    return locked


def booking_reschedule(
    *, booking: Booking, start: datetime, now: datetime | None = None
) -> Booking:
    """Move a confirmed booking to another free start: same row, same token and links.

    One transaction: if the new time is not free nothing changes and the old time stays
    held (SlotUnavailable)."""
    start = _checked_start(start)
    now = now or dj_timezone.now()

    with transaction.atomic():
        calendar = _lock_calendar(booking.calendar)
        locked = Booking.objects.select_for_update().get(pk=booking.pk)
        if locked.status != Booking.Status.CONFIRMED:
            raise BookingError("This booking was cancelled, so it cannot be rescheduled.")
        if locked.start == start:
            return locked
        _check_reach(calendar=calendar, start=start, now=now)
        seat = _free_seat(calendar=calendar, start=start, now=now, ignore_booking=locked)
        locked.start = start
        locked.end = start + timedelta(minutes=calendar.duration_minutes)
        locked.seat = seat
        try:
            locked.save(update_fields=["start", "end", "seat"])
        except IntegrityError as exc:
            _raise_if_seat_taken(exc)
            raise
        _notify(booking=locked, event="rescheduled")
        _send_on_commit(
            signals.booking_rescheduled,
            booking_id=locked.pk,
            calendar_id=calendar.pk,
            contact_id=locked.contact_id,
        )
    return locked


def _checked_start(start) -> datetime:
    if not isinstance(start, datetime):
        raise ValidationError({"start": "Give the start as a date and time."})
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValidationError({"start": "The start needs a UTC offset or timezone."})
    try:
        return start.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+05:00
        raise ValidationError({"start": "The start is out of range."}) from exc


def _lock_calendar(calendar: Calendar) -> Calendar:
    """The calendar row read under its lock, the lock every booking write of the calendar
    takes first; CalendarInactive when it no longer takes bookings."""
    # OF self: the owner comes along for the emails without locking their user row.
    locked = (
        Calendar.objects.select_for_update(of=("self",))
        .select_related("owner")
        .filter(pk=calendar.pk)
        .first()
    )
    if locked is None or not locked.is_active:
        raise CalendarInactive("This calendar is not taking bookings.")
    return locked


def _lock_calendar_row(calendar_id: int) -> None:
    """The calendar's lock alone, whether or not it still takes bookings (a cancel)."""
    list(Calendar.objects.select_for_update().filter(pk=calendar_id).values_list("pk"))


def _check_reach(*, calendar: Calendar, start: datetime, now: datetime) -> None:
    # Far outside notice and window the answer is known without a query, and the date
    # arithmetic that follows stays clear of datetime's limits (years 1 and 9999).
    if not now - _DAY <= start <= now + timedelta(days=calendar.booking_window_days + 2):
        raise SlotUnavailable(TAKEN_MESSAGE)


def _free_seat(
    *,
    calendar: Calendar,
    start: datetime,
    now: datetime,
    ignore_booking: Booking | None = None,
) -> int:
    """The lowest free seat at `start`, after the engine agrees `start` is a free slot start.
    The caller holds the calendar lock, so the busy time read here has every booking
    committed before it."""
    # The calendar was just read under its lock, so its rules_version is the committed one
    # (an hours change bumps it with an UPDATE of this row, which waits for our lock): the
    # rules cached for that version are the calendar's current hours. They hold
    # overrides from two days before today on; _check_reach keeps `start` (and the local
    # day before it) inside that.
    rules = calendar_rules_cached(calendar=calendar, now=now)
    busy = calendar_busy(
        calendar=calendar, range_start=start, range_end=start + timedelta(microseconds=1)
    )
    if ignore_booking is not None:
        # The booking being moved does not block its own new time. Busy entries carry
        # times only; any one with the same times stands for it equally.
        own = availability.Busy(ignore_booking.start, ignore_booking.end)
        if own in busy:
            busy.remove(own)
    if not availability.is_free(rules, busy, now=now, start=start):
        raise SlotUnavailable(TAKEN_MESSAGE)
    if calendar.seats_per_slot == 1:
        # The engine just saw no confirmed booking overlapping this slot, so seat 1 is free
        # (the partial unique constraint still backs that up on insert).
        return 1
    taken = Booking.objects.filter(calendar=calendar, start=start, status=Booking.Status.CONFIRMED)
    if ignore_booking is not None:
        taken = taken.exclude(pk=ignore_booking.pk)
    taken_seats = set(taken.values_list("seat", flat=True))
    for seat in range(1, calendar.seats_per_slot + 1):
        if seat not in taken_seats:
            return seat
    raise SlotUnavailable(TAKEN_MESSAGE)


def _full_clean(booking: Booking) -> None:
    try:
        # Seat uniqueness is left to the database constraint (see _raise_if_seat_taken), so
        # that a lost race reads as "taken", not as a form error; the related rows are the
        # ones already in hand (no existence queries). The only unique field is the random
        # `locator` (72 bits, a collision is 2^-72 per pair): the unique index backs it, so
        # no query asks first.
        booking.full_clean(exclude=_NOT_INPUT, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors: dict[str, list] = {}
        for field, messages in exc.message_dict.items():
            errors.setdefault(_INPUT_NAMES.get(field, field), []).extend(messages)
        raise ValidationError(errors) from exc


def _is_seat_conflict(exc: IntegrityError) -> bool:
    text = str(exc)
    return SEAT_CONSTRAINT in text or _SQLITE_SEAT_COLUMNS in text


def _raise_if_seat_taken(exc: IntegrityError) -> None:
    # No savepoint around the writes that take a seat: every caller runs inside the
    # service's atomic block and lets SlotUnavailable leave it, so the refused write is
    # rolled back with that block (to its savepoint when nested in a caller's transaction)
    # and nothing runs in between.
    if _is_seat_conflict(exc):
        raise SlotUnavailable(TAKEN_MESSAGE) from exc


def _notify(*, booking: Booking, event: str) -> None:
    # Imported here: notifications import the booking model and render templates; the
    # services stay importable on their own.
    from bookings.notifications import booking_notify

    booking_notify(booking=booking, event=event)


def _send_on_commit(signal, **kwargs) -> None:
    send_on_commit(signal, sender=Booking, **kwargs)
