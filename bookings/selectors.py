"""Booking reads for availability: busy time and free slots for a calendar.

A constant handful of queries whatever the range, rows read as tuples (no model instances),
and the slot arithmetic left to the pure engine. On the public slots path the calendar's
rules come from memory and one query both reads the bookings and confirms that the
calendar in memory is still current.
"""

import struct
from datetime import UTC, datetime, time, timedelta
from functools import cache

from django.db import connection
from django.utils import timezone as dj_timezone

from bookings.models import Booking
from calendars import availability
from calendars.models import Calendar
from calendars.selectors import calendar_rules_cached, zone
from config import rows, tokens

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


# 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix epoch microseconds.
_POSTGRES_EPOCH = 946_684_800_000_000


@cache
def _busy_sql(*, check_version: bool) -> str:
    """One row: (the bookings packed in one value, whether the calendar is current)."""
    bookings = _bookings_sql()
    if not check_version:
        return f"SELECT ({bookings}), TRUE"
    # In the same round trip: is the calendar row still the one the caller holds?
    q = connection.ops.quote_name

    def col(name: str) -> str:
        return q(Calendar._meta.get_field(name).column)

    current = (
        f"SELECT 1 FROM {q(Calendar._meta.db_table)} "  # noqa: S608 (names only)
        f"WHERE {col('id')} = %s AND {col('slug')} = %s "
        f"AND {col('is_active')} = %s AND {col('rules_version')} = %s"
    )
    return f"SELECT ({bookings}), EXISTS ({current})"


@cache
def _bookings_sql() -> str:
    """The confirmed bookings of a calendar in a range, packed in one value."""
    # Written once from the models' own table and column names. Raw SQL because this runs
    # on every slots request and the ORM's per-query compilation costs more than the query.
    q = connection.ops.quote_name

    def col(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    start, end = col(Booking, "start"), col(Booking, "end")
    if connection.vendor == "postgresql":
        # timestamptz_send is a timestamp's binary wire form: 8 bytes, microseconds since
        # 2000-01-01 UTC. One bytea for all bookings, unpacked by one struct call: no
        # per-row text or numeric conversion in PostgreSQL (EXTRACT(EPOCH) * 1e6 cost twice
        # the server CPU) and no Python loader per value (Django's timestamptz loader costs
        # ~3 us a value; 1,300 values for a month of this bench).
        packed = f"string_agg(timestamptz_send({start}) || timestamptz_send({end}), ''::bytea)"
    else:
        packed = f"group_concat({start} || ',' || {end}, ',')"
    return (
        f"SELECT {packed} FROM {q(Booking._meta.db_table)} "  # noqa: S608 (names only)
        f"WHERE {col(Booking, 'calendar')} = %s AND {col(Booking, 'status')} = %s "
        f"AND {start} >= %s AND {start} < %s AND {end} > %s"
    )


def _unpack(packed: bytes | str | None) -> list[tuple[int, int]]:
    """The packed bookings column as (start, end) pairs in epoch microseconds."""
    if not packed:
        return []
    if isinstance(packed, bytes):  # PostgreSQL: big-endian int64s, start and end in turn
        values = struct.unpack(f">{len(packed) // 8}q", packed)
        offset = _POSTGRES_EPOCH
        return [(s + offset, e + offset) for s, e in zip(values[0::2], values[1::2], strict=True)]
    # SQLite: "start,end,start,end..." as naive UTC text.
    micros = availability.epoch_micros
    values = [micros(datetime.fromisoformat(v).replace(tzinfo=UTC)) for v in packed.split(",")]
    return list(zip(values[0::2], values[1::2], strict=True))


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
    params = _bookings_params(calendar=calendar, range_start=range_start, range_end=range_end)
    if check_version:
        params += [calendar.pk, calendar.slug, True, calendar.rules_version]
    with connection.cursor() as cursor:
        cursor.execute(_busy_sql(check_version=check_version), params)
        packed, current = cursor.fetchone()
    if not current:
        raise StaleCalendar(calendar.slug)
    # Usually in start order already (the index's), which spares the engine's sort work.
    return _unpack(packed)


def _bookings_params(*, calendar: Calendar, range_start: datetime, range_end: datetime) -> list:
    reach = timedelta(
        minutes=calendar.duration_minutes
        + calendar.buffer_before_minutes
        + calendar.buffer_after_minutes
    )
    if calendar.max_bookings_per_day is not None:
        reach += _LOCAL_DAY_REACH
    adapt = connection.ops.adapt_datetimefield_value
    lo = range_start - reach
    return [
        calendar.pk,
        Booking.Status.CONFIRMED.value,
        adapt(lo - _LONGEST_BOOKING),
        adapt(range_end + reach),
        adapt(lo),
    ]


def calendar_busy(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[availability.Busy]:
    """calendar_busy_micros as availability.Busy (aware UTC datetimes), for is_free."""
    return calendar_busy_deferred(
        calendar=calendar, range_start=range_start, range_end=range_end
    ).result()


def calendar_busy_deferred(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> rows.Deferred[list[availability.Busy]]:
    """calendar_busy, as a read that can travel in a config.rows.together() statement: the
    booking service sends it with the invitee's contact, after the calendar's lock."""
    params = _bookings_params(calendar=calendar, range_start=range_start, range_end=range_end)
    moment = availability.from_epoch_micros

    def busy(packed: bytes | str | None) -> list[availability.Busy]:
        return [availability.Busy(moment(start), moment(end)) for start, end in _unpack(packed)]

    return rows.read_deferred(f"({_bookings_sql()})", params).then(busy)


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
    return availability.datetimes_from_epoch_micros(micros)


def booking_get_by_token(*, token: str) -> Booking | None:
    """The booking a secret token (Booking.token) names, with its calendar and owner; None
    for anything malformed, unknown or forged (the caller cannot tell which)."""
    parts = tokens.split_token(token)
    if parts is None:
        return None
    locator, mac = parts
    booking = (
        Booking.objects.select_related("calendar", "calendar__owner")
        .filter(locator=locator)
        .first()
    )
    if booking is None or not tokens.check_mac(
        purpose=Booking.TOKEN_PURPOSE, locator=locator, nonce=booking.nonce, mac=mac
    ):
        return None
    return booking
