"""Booking reads for availability: busy time and free slots for a calendar.

A constant handful of queries whatever the range, rows read as tuples (no model instances),
and the slot arithmetic left to the pure engine. On the public slots path the calendar's
rules come from memory and one query both reads the bookings and confirms that the
calendar in memory is still current.
"""

from datetime import UTC, datetime, time, timedelta
from functools import cache

from django.db import connection
from django.utils import timezone as dj_timezone

from bookings.models import Booking
from calendars import availability
from calendars.models import Calendar
from calendars.selectors import calendar_rules_cached, zone

# A local day lasts up to 25 hours (DST), and an instant may sit at the end of its day, so
# everything on the local dates touching a range lies within this of the range.
_LOCAL_DAY_REACH = timedelta(hours=26)
# Bookings are at most a day long (Calendar.duration_minutes <= 24 h): the bound on `start`
# that keeps the (calendar, status, start) index usable for "overlaps the range".
_LONGEST_BOOKING = timedelta(days=1)
# Slack on the window pre-filter; the engine applies the exact cut.
_WINDOW_SLACK = timedelta(hours=3)


class StaleCalendar(Exception):
    """The calendar changed (or went inactive, or lost its slug) since it was read."""


@cache
def _busy_sql(*, check_version: bool) -> str:
    # Written once from the models' own table and column names. Raw SQL because this runs
    # on every slots request and the ORM's per-query compilation costs more than the query.
    q = connection.ops.quote_name

    def col(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    start, end = col(Booking, "start"), col(Booking, "end")
    if connection.vendor == "postgresql":
        # Microseconds since the epoch as bigint, what the engine's integer path takes:
        # psycopg reads an integer in C (faster still than a float), while Django's
        # timestamptz loader is Python code that costs ~10 us a value (1,400 values a month).
        # EXTRACT gives an exact numeric (PostgreSQL 14+), so the cast loses nothing.
        selected = ", ".join(
            f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint" for column in (start, end)
        )
    else:
        selected = f"{start}, {end}"
    sql = (
        f"SELECT 1, {selected} FROM {q(Booking._meta.db_table)} "  # noqa: S608 (names only)
        f"WHERE {col(Booking, 'calendar')} = %s AND {col(Booking, 'status')} = %s "
        f"AND {start} >= %s AND {start} < %s AND {end} > %s"
    )
    if check_version:
        # One marker row when the calendar is still the one the caller holds.
        sql += (
            f" UNION ALL SELECT 0, NULL, NULL FROM {q(Calendar._meta.db_table)} "  # noqa: S608
            f"WHERE {col(Calendar, 'id')} = %s AND {col(Calendar, 'slug')} = %s "
            f"AND {col(Calendar, 'is_active')} = %s AND {col(Calendar, 'rules_version')} = %s"
        )
    return sql


def _aware(value) -> datetime:
    # PostgreSQL hands back aware datetimes; SQLite gives naive UTC (or text in a UNION).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def calendar_busy_micros(
    *,
    calendar: Calendar,
    range_start: datetime,
    range_end: datetime,
    check_version: bool = False,
) -> list[tuple[int, int]]:
    """Confirmed bookings that can affect free slots starting in [range_start, range_end),
    as (start, end) in epoch microseconds (for availability.free_slot_micros).

    Widened by the duration and both buffers (a booking just outside the range can still
    block a slot inside it) and, with a daily maximum, by a local day on each side (the
    maximum counts whole dates).
    With `check_version`, raises StaleCalendar unless the calendar row still has the
    instance's slug, rules_version and is_active=True (checked in the same query).
    """
    reach = timedelta(
        minutes=calendar.duration_minutes
        + calendar.buffer_before_minutes
        + calendar.buffer_after_minutes
    )
    if calendar.max_bookings_per_day is not None:
        reach += _LOCAL_DAY_REACH
    adapt = connection.ops.adapt_datetimefield_value
    lo = range_start - reach
    params = [
        calendar.pk,
        Booking.Status.CONFIRMED.value,
        adapt(lo - _LONGEST_BOOKING),
        adapt(range_end + reach),
        adapt(lo),
    ]
    if check_version:
        params += [calendar.pk, calendar.slug, True, calendar.rules_version]
    with connection.cursor() as cursor:
        cursor.execute(_busy_sql(check_version=check_version), params)
        rows = cursor.fetchall()
    # Booking rows are marked 1; the version marker row (0) is there when the calendar is
    # still current.
    booked = [(start, end) for kind, start, end in rows if kind == 1]
    if check_version and len(booked) == len(rows):
        raise StaleCalendar(calendar.slug)
    if booked and not isinstance(booked[0][0], int):  # SQLite: datetimes or text
        micros = availability.epoch_micros
        return [(micros(_aware(start)), micros(_aware(end))) for start, end in booked]
    return booked


def calendar_busy(
    *,
    calendar: Calendar,
    range_start: datetime,
    range_end: datetime,
    check_version: bool = False,
) -> list[availability.Busy]:
    """calendar_busy_micros as availability.Busy (aware UTC datetimes), for is_free."""
    busy = calendar_busy_micros(
        calendar=calendar,
        range_start=range_start,
        range_end=range_end,
        check_version=check_version,
    )
    moment = availability.from_epoch_micros
    return [availability.Busy(moment(start), moment(end)) for start, end in busy]


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
    check_version: bool = False,
) -> list[int]:
    """Free slot starts with range_start <= start < range_end, ascending, as epoch
    microseconds (UTC): no datetime per booking or per slot (the public slots API).

    Costs one query (the bookings) once the calendar's rules are in memory, two more when
    they are not. `check_version`: see calendar_busy_micros (raises StaleCalendar).
    """
    now = now or dj_timezone.now()
    lo, hi = bookable_range(
        calendar=calendar, range_start=range_start, range_end=range_end, now=now
    )
    if lo >= hi:
        if check_version:
            # Nothing to compute, but the caller still needs to know the calendar is current.
            calendar_busy_micros(
                calendar=calendar, range_start=hi, range_end=hi, check_version=True
            )
        return []
    busy = calendar_busy_micros(
        calendar=calendar, range_start=lo, range_end=hi, check_version=check_version
    )
    rules = calendar_rules_cached(calendar=calendar, now=now)
    return availability.free_slot_micros(rules, busy, now=now, range_start=lo, range_end=hi)


def calendar_free_slots(
    *,
    calendar: Calendar,
    range_start: datetime,
    range_end: datetime,
    now: datetime | None = None,
    check_version: bool = False,
) -> list[datetime]:
    """calendar_free_slot_micros as aware UTC datetimes."""
    micros = calendar_free_slot_micros(
        calendar=calendar,
        range_start=range_start,
        range_end=range_end,
        now=now,
        check_version=check_version,
    )
    return [availability.from_epoch_micros(start) for start in micros]
