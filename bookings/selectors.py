"""Booking reads for availability: busy time and free slots for a calendar.

A constant handful of queries whatever the range (overrides, weekly hours, bookings; the
calendar itself is the caller's), rows read with values_list, no model instances, and the
slot arithmetic left to the pure engine.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone as dj_timezone

from bookings.models import Booking
from calendars import availability
from calendars.models import Calendar
from calendars.selectors import calendar_rules, zone

# A local day lasts up to 25 hours (DST), and an instant may sit at the end of its day, so
# everything on the local dates touching a range lies within this of the range.
_LOCAL_DAY_REACH = timedelta(hours=26)
# Bookings are at most a day long (Calendar.duration_minutes <= 24 h): the bound on `start`
# that keeps the (calendar, status, start) index usable for "overlaps the range".
_LONGEST_BOOKING = timedelta(days=1)
# Slack on the window pre-filter; the engine applies the exact cut.
_WINDOW_SLACK = timedelta(hours=3)


def calendar_busy(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[availability.Busy]:
    """Confirmed bookings that can affect free slots starting in [range_start, range_end).

    Widened by the duration and both buffers (a booking just outside the range can still
    block a slot inside it) and by a local day on each side (max-per-day counts whole dates).
    """
    reach = (
        timedelta(
            minutes=calendar.duration_minutes
            + calendar.buffer_before_minutes
            + calendar.buffer_after_minutes
        )
        + _LOCAL_DAY_REACH
    )
    lo = range_start - reach
    hi = range_end + reach
    rows = Booking.objects.filter(
        calendar_id=calendar.pk,
        status=Booking.Status.CONFIRMED,
        start__gte=lo - _LONGEST_BOOKING,
        start__lt=hi,
        end__gt=lo,
    ).values_list("start", "end")
    Busy = availability.Busy
    return [Busy(start, end) for start, end in rows]


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


def calendar_free_slots(
    *,
    calendar: Calendar,
    range_start: datetime,
    range_end: datetime,
    now: datetime | None = None,
) -> list[datetime]:
    """Free slot starts (aware, UTC) with range_start <= start < range_end, ascending."""
    now = now or dj_timezone.now()
    lo, hi = bookable_range(
        calendar=calendar, range_start=range_start, range_end=range_end, now=now
    )
    if lo >= hi:
        return []
    tz = zone(calendar.timezone)
    rules = calendar_rules(
        calendar=calendar,
        first=(lo - _LOCAL_DAY_REACH).astimezone(tz).date(),
        last=(hi + _LOCAL_DAY_REACH).astimezone(tz).date(),
    )
    busy = calendar_busy(calendar=calendar, range_start=lo, range_end=hi)
    return availability.free_slots(rules, busy, now=now, range_start=lo, range_end=hi)
