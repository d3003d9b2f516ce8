"""Booking reads for availability: busy time and free slots for a calendar.

One query reads the confirmed bookings that can touch a range; the slot arithmetic is the
pure engine's (calendars.availability).
"""

from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import BigIntegerField, QuerySet
from django.db.models.functions import Cast, Extract
from django.utils import timezone as dj_timezone

from bookings.models import Booking
from calendars import availability
from calendars.models import Calendar
from calendars.selectors import calendar_rules_cached, connected_busy, connected_busy_micros, zone
from config import tokens

# A local day lasts up to 25 hours (DST), and an instant may sit at the end of its day, so
# everything on the local dates touching a range lies within this of the range.
_LOCAL_DAY_REACH = timedelta(hours=26)
# Bookings are at most a day long (Calendar.duration_minutes <= 24 h): the bound on `start`
# that keeps the (calendar, status, start) index usable for "overlaps the range".
_LONGEST_BOOKING = timedelta(days=1)
# Slack on the window pre-filter; the engine applies the exact cut.
_WINDOW_SLACK = timedelta(hours=3)


def _busy_rows(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> QuerySet[Booking]:
    """The confirmed bookings that can affect free slots starting in [range_start,
    range_end), in start order.

    Widened by the duration and both buffers (a booking just outside the range can still
    block a slot inside it) and, with a daily maximum, by a local day on each side (the
    maximum counts whole dates)."""
    reach = timedelta(
        minutes=calendar.duration_minutes
        + calendar.buffer_before_minutes
        + calendar.buffer_after_minutes
    )
    if calendar.max_bookings_per_day is not None:
        reach += _LOCAL_DAY_REACH
    lo = range_start - reach
    return Booking.objects.filter(
        calendar_id=calendar.pk,
        status=Booking.Status.CONFIRMED,
        start__gte=lo - _LONGEST_BOOKING,
        start__lt=range_end + reach,
        end__gt=lo,
    ).order_by("start")


def _busy_spans(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[tuple[datetime, datetime]]:
    rows = _busy_rows(calendar=calendar, range_start=range_start, range_end=range_end)
    return list(rows.values_list("start", "end"))


def _epoch_micros(field: str) -> Cast:
    return Cast(Extract(field, "epoch", tzinfo=UTC) * 1_000_000, BigIntegerField())


def calendar_busy_micros(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[tuple[int, int]]:
    """The busy spans as (start, end) epoch microseconds (for availability.free_slot_micros).

    On PostgreSQL the database gives the numbers (EXTRACT(EPOCH ...), still the ORM):
    parsing a month's bookings from text into datetimes, only to turn them into numbers,
    was most of the CPU of a 31-day slots request and of the booking page. Measured in one
    process on the bench's calendar (2,000 bookings, about 660 in a month), interleaved
    runs: a 31-day request went from 3.7-3.9 to 1.3-1.6 times the CPU of a 1-day one, the
    booking page from 5.0-5.5 to 2.5 times. SQLite has no EXTRACT(EPOCH): there the
    datetimes are converted here."""
    rows = _busy_rows(calendar=calendar, range_start=range_start, range_end=range_end)
    if connection.vendor == "postgresql":
        spans = rows.values_list(_epoch_micros("start"), _epoch_micros("end"))
        return [tuple(span) for span in spans]
    micros = availability.epoch_micros
    return [(micros(start), micros(end)) for start, end in rows.values_list("start", "end")]


def calendar_busy(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[availability.Busy]:
    """The busy spans as availability.Busy (aware UTC datetimes), for is_free."""
    spans = _busy_spans(calendar=calendar, range_start=range_start, range_end=range_end)
    bookings = [availability.Busy(start, end) for start, end in spans]
    # CONNECTED CALENDARS (issue 15): the owner's stored external busy time joins the
    # bookings (flagged external: it counts toward neither seats nor the daily maximum).
    return bookings + connected_busy(
        calendar=calendar, range_start=range_start, range_end=range_end
    )


def bookable_range(
    *, calendar: Calendar, range_start: datetime, range_end: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """The part of a range that notice and the booking window leave open (may be empty).

    A cheap pre-filter so that a far-future or past request costs no booking query; the
    engine still applies both rules exactly.
    """
    tz = zone(calendar.timezone)
    lo = max(range_start, now + timedelta(minutes=calendar.min_notice_minutes))
    last_day = now.astimezone(tz).date() + timedelta(days=calendar.booking_window_days)
    window_end = datetime.combine(last_day, time(0), tzinfo=tz) + _WINDOW_SLACK
    return lo, min(range_end, window_end)


def calendar_free_slot_micros(
    *,
    calendar: Calendar,
    range_start: datetime,
    range_end: datetime,
    now: datetime | None = None,
) -> list[int]:
    """Free slot starts with range_start <= start < range_end, ascending, as epoch
    microseconds (UTC): no datetime per booking or per slot (the public slots API).

    Costs one query (the bookings) once the calendar's rules are cached, two more when
    they are not.
    """
    now = now or dj_timezone.now()
    lo, hi = bookable_range(
        calendar=calendar, range_start=range_start, range_end=range_end, now=now
    )
    if lo >= hi:
        return []
    busy = calendar_busy_micros(calendar=calendar, range_start=lo, range_end=hi)
    rules = calendar_rules_cached(calendar=calendar, now=now)
    # CONNECTED CALENDARS (issue 15): stored external busy time, a separate engine input.
    external = connected_busy_micros(calendar=calendar, range_start=lo, range_end=hi)
    return availability.free_slot_micros(
        rules, busy, now=now, range_start=lo, range_end=hi, external=external
    )


def calendar_free_slots(
    *,
    calendar: Calendar,
    range_start: datetime,
    range_end: datetime,
    now: datetime | None = None,
) -> list[datetime]:
    """calendar_free_slot_micros as aware UTC datetimes."""
    micros = calendar_free_slot_micros(
        calendar=calendar,
        range_start=range_start,
        range_end=range_end,
        now=now,
    )
    return availability.datetimes_from_epoch_micros(micros)


def booking_get_by_token(*, token: str) -> Booking | None:
    """The booking a secret token (Booking.token) names, with its calendar and owner; None
    for anything malformed, unknown or forged (the caller cannot tell which)."""
    return tokens.lookup(
        Booking.objects.select_related("calendar", "calendar__owner"),
        token,
        purpose=Booking.TOKEN_PURPOSE,
    )
