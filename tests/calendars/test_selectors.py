from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.http import Http404

from bookings.models import Booking
from bookings.selectors import calendar_busy
from calendars.selectors import calendar_get_public, calendar_queryset_with_hours, calendar_rules
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, DateOverrideFactory

pytestmark = pytest.mark.django_db


def test_it_builds_rules_from_the_calendar():
    calendar = CalendarFactory(
        timezone="America/New_York",
        duration_minutes=45,
        slot_interval_minutes=15,
        buffer_before_minutes=5,
        buffer_after_minutes=10,
        seats_per_slot=2,
        max_bookings_per_day=4,
        hours=[(0, time(13), time(17)), (0, time(9), time(12))],
    )
    DateOverrideFactory(calendar=calendar, date=date(2027, 3, 16), start=None, end=None)
    DateOverrideFactory(calendar=calendar, date=date(2027, 3, 17), start=time(8), end=time(9))
    rules = calendar_rules(calendar=calendar)
    assert str(rules.timezone) == "America/New_York"
    assert rules.duration == timedelta(minutes=45)
    assert rules.interval == timedelta(minutes=15)
    assert (rules.buffer_before, rules.buffer_after) == (
        timedelta(minutes=5),
        timedelta(minutes=10),
    )
    assert (rules.seats, rules.max_per_day) == (2, 4)
    assert rules.weekly == {0: [(time(9), time(12)), (time(13), time(17))]}
    assert rules.overrides == {date(2027, 3, 16): [], date(2027, 3, 17): [(time(8), time(9))]}


def test_it_uses_prefetched_hours_without_queries(django_assert_num_queries):
    CalendarFactory()
    calendar = calendar_queryset_with_hours().get()
    with django_assert_num_queries(0):
        rules = calendar_rules(calendar=calendar)
    assert len(rules.weekly) == 5


def test_it_limits_overrides_to_the_dates_asked():
    calendar = CalendarFactory()
    DateOverrideFactory(calendar=calendar, date=date(2027, 3, 16), start=None, end=None)
    DateOverrideFactory(calendar=calendar, date=date(2027, 4, 16), start=None, end=None)
    rules = calendar_rules(calendar=calendar, first=date(2027, 4, 1), last=date(2027, 4, 30))
    assert list(rules.overrides) == [date(2027, 4, 16)]


def test_it_finds_an_active_calendar_by_slug():
    calendar = CalendarFactory()
    assert calendar_get_public(slug=calendar.slug) == calendar


def test_it_hides_an_inactive_calendar():
    calendar = CalendarFactory(is_active=False)
    with pytest.raises(Http404):
        calendar_get_public(slug=calendar.slug)


def test_it_counts_bookings_that_touch_the_range_through_buffers():
    calendar = CalendarFactory(buffer_after_minutes=60)
    start = datetime(2027, 3, 15, 9, tzinfo=UTC)
    before = BookingFactory(calendar=calendar, start=start - timedelta(hours=1))
    busy = calendar_busy(calendar=calendar, range_start=start, range_end=start + timedelta(hours=1))
    assert [(b.start, b.end) for b in busy] == [(before.start, before.end)]


def test_it_includes_the_whole_local_day_for_the_daily_maximum():
    calendar = CalendarFactory(timezone="Pacific/Auckland", max_bookings_per_day=1)
    # 2027-03-15 09:00 in Auckland is 2027-03-14 20:00 UTC; the range starts at 23:00 local.
    morning = BookingFactory(calendar=calendar, start=datetime(2027, 3, 14, 20, tzinfo=UTC))
    range_start = datetime(2027, 3, 15, 10, tzinfo=UTC)
    busy = calendar_busy(
        calendar=calendar, range_start=range_start, range_end=range_start + timedelta(hours=1)
    )
    assert morning.start in [b.start for b in busy]


def test_it_leaves_out_cancelled_and_other_calendars_bookings():
    calendar = CalendarFactory()
    start = datetime(2027, 3, 15, 9, tzinfo=UTC)
    BookingFactory(calendar=calendar, start=start, status=Booking.Status.CANCELLED)
    BookingFactory(start=start)
    busy = calendar_busy(calendar=calendar, range_start=start, range_end=start + timedelta(days=1))
    assert busy == []


def test_it_reads_busy_time_in_one_query(django_assert_num_queries):
    calendar = CalendarFactory()
    start = datetime(2027, 3, 15, 9, tzinfo=UTC)
    for hour in range(5):
        BookingFactory(calendar=calendar, start=start + timedelta(hours=hour))
    # Issue 15: a cold read also loads the owner's connected-calendar busy time (one query,
    # then kept in memory per rules_version, as the rules are).
    with django_assert_num_queries(2):
        busy = calendar_busy(
            calendar=calendar, range_start=start, range_end=start + timedelta(days=1)
        )
    assert len(busy) == 5
    with django_assert_num_queries(1):
        calendar_busy(calendar=calendar, range_start=start, range_end=start + timedelta(days=1))
