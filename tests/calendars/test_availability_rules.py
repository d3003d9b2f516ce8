"""The availability engine's rules 1-5 (issue 2), one behaviour per test, on a UTC calendar
unless the rule is about local time."""

from datetime import date, timedelta

import pytest

from calendars.availability import Busy, free_slots, is_free
from tests.calendars.availability_support import (
    booking,
    local_day_range,
    make_rules,
    minutes,
    utc,
    wall_times,
)

# Monday 1 March 2027, midnight UTC: every test day below is in the future and in the window.
NOW = utc(2027, 3, 1, 0, 0)
TUESDAY = date(2027, 3, 2)


def day_slots(rules, busy=(), *, day=TUESDAY, now=NOW, tz="UTC"):
    start, end = local_day_range(tz, day)
    return wall_times(free_slots(rules, list(busy), now=now, range_start=start, range_end=end), tz)


# Rule 1: intervals, steps, duration.


def test_it_steps_through_an_interval_by_the_duration():
    rules = make_rules(hours=[("09:00", "11:00")], duration=30)

    assert day_slots(rules) == ["09:00", "09:30", "10:00", "10:30"]


def test_it_keeps_a_candidate_only_when_it_ends_inside_the_interval():
    rules = make_rules(hours=[("09:00", "10:50")], duration=30)

    assert day_slots(rules) == ["09:00", "09:30", "10:00"]


def test_it_steps_by_an_interval_shorter_than_the_duration():
    rules = make_rules(hours=[("09:00", "10:30")], duration=60, interval=15)

    assert day_slots(rules) == ["09:00", "09:15", "09:30"]


def test_it_steps_by_an_interval_longer_than_the_duration():
    rules = make_rules(hours=[("09:00", "12:00")], duration=30, interval=45)

    assert day_slots(rules) == ["09:00", "09:45", "10:30", "11:15"]


def test_it_restarts_the_steps_at_each_interval_of_a_day():
    rules = make_rules(hours=[("09:00", "10:00"), ("13:10", "14:10")], duration=30)

    assert day_slots(rules) == ["09:00", "09:30", "13:10", "13:40"]


def test_it_offers_nothing_when_the_interval_is_shorter_than_the_duration():
    rules = make_rules(hours=[("09:00", "09:20")], duration=30)

    assert day_slots(rules) == []


def test_it_offers_nothing_on_a_weekday_without_hours():
    rules = make_rules(weekdays=[0])  # Mondays only

    assert day_slots(rules, day=TUESDAY) == []


def test_it_uses_the_weekday_of_the_local_date():
    # Tuesday 00:30 in Tokyo is still Monday in UTC; the Tuesday hours apply.
    rules = make_rules(tz="Asia/Tokyo", hours=[("00:00", "01:00")], weekdays=[1], duration=30)

    assert day_slots(rules, tz="Asia/Tokyo") == ["00:00", "00:30"]


def test_it_replaces_the_weekly_hours_with_an_override():
    rules = make_rules(
        hours=[("09:00", "17:00")], overrides={TUESDAY: [("13:00", "14:00"), ("16:00", "17:00")]}
    )

    assert day_slots(rules) == ["13:00", "13:30", "16:00", "16:30"]


def test_it_closes_a_date_with_an_empty_override():
    rules = make_rules(overrides={TUESDAY: []})

    assert day_slots(rules) == []


def test_it_keeps_the_weekly_hours_on_dates_without_override():
    rules = make_rules(hours=[("09:00", "10:00")], overrides={TUESDAY: []})

    assert day_slots(rules, day=TUESDAY + timedelta(days=1)) == ["09:00", "09:30"]


def test_it_opens_a_weekday_without_hours_through_an_override():
    rules = make_rules(weekdays=[], overrides={TUESDAY: [("10:00", "11:00")]})

    assert day_slots(rules) == ["10:00", "10:30"]


def test_it_merges_overlapping_intervals_without_duplicates():
    rules = make_rules(hours=[("09:00", "10:00"), ("09:30", "10:30")], duration=30)

    assert day_slots(rules) == ["09:00", "09:30", "10:00"]


def test_it_ends_an_interval_ending_at_time_zero_at_the_end_of_the_day():
    rules = make_rules(hours=[("23:00", "00:00")], duration=30)

    assert day_slots(rules) == ["23:00", "23:30"]


def test_it_ignores_an_interval_ending_before_it_starts():
    rules = make_rules(hours=[("10:00", "09:00"), ("11:00", "11:30")], duration=30)

    assert day_slots(rules) == ["11:00"]


def test_it_returns_aware_utc_datetimes_sorted_within_the_range():
    rules = make_rules(tz="Europe/Berlin", hours=[("09:00", "12:00")], duration=60)

    slots = free_slots(
        rules, [], now=NOW, range_start=utc(2027, 3, 2, 9), range_end=utc(2027, 3, 2, 10)
    )

    assert slots == [utc(2027, 3, 2, 9)]  # 10:00 in Berlin (CET, +01:00)
    assert slots[0].utcoffset() == timedelta(0)


def test_it_treats_the_range_end_as_exclusive():
    rules = make_rules(hours=[("09:00", "11:00")])

    slots = free_slots(
        rules, [], now=NOW, range_start=utc(2027, 3, 2, 9), range_end=utc(2027, 3, 2, 10)
    )

    assert slots == [utc(2027, 3, 2, 9), utc(2027, 3, 2, 9, 30)]


def test_it_accepts_ranges_and_bookings_in_any_timezone():
    rules = make_rules(hours=[("09:00", "11:00")])
    berlin = make_rules(tz="Europe/Berlin").timezone
    start = utc(2027, 3, 2, 0).astimezone(berlin)
    end = utc(2027, 3, 3, 0).astimezone(berlin)

    slots = free_slots(
        rules,
        [booking(utc(2027, 3, 2, 9).astimezone(berlin))],
        now=NOW,
        range_start=start,
        range_end=end,
    )

    assert slots == [utc(2027, 3, 2, 9, 30), utc(2027, 3, 2, 10), utc(2027, 3, 2, 10, 30)]


def test_it_refuses_naive_datetimes():
    rules = make_rules()

    with pytest.raises(ValueError, match="now"):
        free_slots(rules, [], now=NOW.replace(tzinfo=None), range_start=NOW, range_end=NOW)


def test_it_refuses_a_naive_start_in_is_free():
    rules = make_rules()

    with pytest.raises(ValueError, match="start"):
        is_free(rules, [], now=NOW, start=utc(2027, 3, 2, 9).replace(tzinfo=None))


def test_it_refuses_a_zero_duration():
    rules = make_rules(duration=0, interval=15)

    with pytest.raises(ValueError, match="duration"):
        is_free(rules, [], now=NOW, start=utc(2027, 3, 2, 9))


def test_it_refuses_a_naive_booking():
    rules = make_rules()
    naive = booking(utc(2027, 3, 2, 9).replace(tzinfo=None))

    with pytest.raises(ValueError, match=r"Busy\.start"):
        free_slots(rules, [naive], now=NOW, range_start=NOW, range_end=NOW + timedelta(days=2))


def test_it_refuses_a_zero_interval():
    rules = make_rules(interval=0)

    with pytest.raises(ValueError, match="interval"):
        free_slots(rules, [], now=NOW, range_start=NOW, range_end=NOW + timedelta(days=1))


# Rule 2: bookings and buffers.


def test_it_hides_a_slot_taken_by_a_booking():
    rules = make_rules(hours=[("09:00", "11:00")])

    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 30))]) == ["09:00", "10:00", "10:30"]


def test_it_hides_every_slot_a_long_booking_overlaps():
    rules = make_rules(hours=[("09:00", "11:00")])

    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 15), 60)]) == ["10:30"]


def test_it_frees_the_slot_that_starts_when_a_booking_ends():
    rules = make_rules(hours=[("09:00", "10:00")])

    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 0))]) == ["09:30"]


def test_it_blocks_the_buffer_after_a_booking():
    rules = make_rules(hours=[("09:00", "11:00")], buffer_after=15)

    # Booking 09:00-09:30 blocks to 09:45, and the 09:30 slot starts inside that.
    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 0))]) == ["10:00", "10:30"]


def test_it_blocks_the_buffer_before_a_booking():
    rules = make_rules(hours=[("09:00", "11:00")], buffer_before=15)

    # Booking 10:00-10:30 blocks from 09:45; the 09:30 slot would end at 10:00.
    assert day_slots(rules, [booking(utc(2027, 3, 2, 10, 0))]) == ["09:00"]


def test_it_needs_both_buffers_between_two_meetings():
    rules = make_rules(hours=[("09:00", "12:00")], buffer_before=10, buffer_after=10, interval=10)

    slots = day_slots(rules, [booking(utc(2027, 3, 2, 10, 0))])

    # 10:30 end + 10 after + 10 before the next: 10:50 is the first start after it.
    assert slots[slots.index("09:10") + 1] == "10:50"
    assert "09:10" in slots
    assert "09:20" not in slots


def test_it_lets_buffers_fall_outside_working_hours():
    rules = make_rules(hours=[("09:00", "10:00")], buffer_before=30, buffer_after=30)

    assert day_slots(rules) == ["09:00", "09:30"]


def test_it_applies_buffers_to_bookings_outside_working_hours():
    rules = make_rules(hours=[("09:00", "10:00")], buffer_after=30)

    # A booking 08:00-08:40 (outside the hours) blocks to 09:10.
    assert day_slots(rules, [booking(utc(2027, 3, 2, 8, 0), 40)]) == ["09:30"]


def test_it_blocks_with_a_booking_from_the_previous_day():
    rules = make_rules(hours=[("00:00", "02:00")], buffer_after=15)

    # 23:30-00:15 plus 15 minutes after blocks midnight but frees 00:30.
    assert day_slots(rules, [booking(utc(2027, 3, 1, 23, 30), 45)]) == ["00:30", "01:00", "01:30"]


# Rule 3: seats.


def test_it_keeps_a_slot_free_while_seats_remain():
    rules = make_rules(hours=[("09:00", "10:00")], seats=3)
    taken = [booking(utc(2027, 3, 2, 9, 0)), booking(utc(2027, 3, 2, 9, 0))]

    assert day_slots(rules, taken) == ["09:00", "09:30"]


def test_it_fills_a_slot_when_every_seat_is_taken():
    rules = make_rules(hours=[("09:00", "10:00")], seats=2)
    taken = [booking(utc(2027, 3, 2, 9, 0)), booking(utc(2027, 3, 2, 9, 0))]

    assert day_slots(rules, taken) == ["09:30"]


def test_it_blocks_a_seated_slot_overlapped_by_a_booking_with_another_start():
    rules = make_rules(hours=[("09:00", "10:30")], interval=15, seats=5)

    # A 09:15-09:45 group session blocks 09:00 and 09:30 (overlaps) but not its own start.
    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 15))]) == ["09:15", "09:45", "10:00"]


def test_it_blocks_a_seated_slot_overlapped_by_a_shorter_booking_with_another_start():
    rules = make_rules(hours=[("09:00", "11:00")], interval=15, seats=2)
    # The long 09:00 booking leaves a seat at 09:00, but the 09:15 one overlaps it.
    taken = [booking(utc(2027, 3, 2, 9, 0), 90), booking(utc(2027, 3, 2, 9, 15))]

    assert day_slots(rules, taken) == ["10:30"]


def test_it_counts_buffers_when_a_seated_slot_overlaps_another_booking():
    rules = make_rules(hours=[("09:00", "11:00")], seats=4, buffer_after=15)

    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 0))]) == ["09:00", "10:00", "10:30"]


def test_it_counts_only_bookings_at_the_exact_start_for_seats():
    rules = make_rules(hours=[("09:00", "11:00")], seats=2)
    taken = [booking(utc(2027, 3, 2, 10, 0)), booking(utc(2027, 3, 2, 10, 0), 60)]

    # The longer 10:00 booking blocks 10:30, which it overlaps with another start.
    assert day_slots(rules, taken) == ["09:00", "09:30"]


# Rule 4: notice and window.


def test_it_hides_slots_inside_the_minimum_notice():
    rules = make_rules(hours=[("09:00", "12:00")], min_notice=90)
    now = utc(2027, 3, 2, 9, 10)

    # The earliest bookable instant is 10:40, which is not on the 30-minute steps.
    assert day_slots(rules, now=now) == ["11:00", "11:30"]


def test_it_offers_a_slot_exactly_at_the_notice_boundary():
    rules = make_rules(hours=[("09:00", "12:00")], min_notice=60)
    now = utc(2027, 3, 2, 9, 0)

    assert day_slots(rules, now=now) == ["10:00", "10:30", "11:00", "11:30"]


def test_it_hides_slots_already_past_without_notice():
    rules = make_rules(hours=[("09:00", "11:00")])
    now = utc(2027, 3, 2, 9, 31)

    assert day_slots(rules, now=now) == ["10:00", "10:30"]


def test_it_offers_only_today_with_a_one_day_window():
    rules = make_rules(hours=[("09:00", "10:00")], window_days=1)
    now = utc(2027, 3, 2, 8, 0)
    start, _ = local_day_range("UTC", TUESDAY)

    slots = free_slots(rules, [], now=now, range_start=start, range_end=start + timedelta(days=7))

    assert wall_times(slots, "UTC") == ["09:00", "09:30"]


def test_it_ends_the_window_at_local_midnight():
    rules = make_rules(tz="America/New_York", hours=[("00:00", "00:00")], window_days=2)
    now = utc(2027, 3, 2, 3, 0)  # 22:00 on Monday 1 March in New York
    start, _ = local_day_range("America/New_York", date(2027, 3, 1))

    slots = free_slots(rules, [], now=now, range_start=start, range_end=start + timedelta(days=7))

    # Monday 22:00 to Tuesday 23:30 local; nothing on Wednesday.
    assert slots[0] == utc(2027, 3, 2, 3, 0)
    assert slots[-1] == utc(2027, 3, 3, 4, 30)
    assert len(slots) == 4 + 48


def test_it_takes_today_from_the_calendar_timezone():
    rules = make_rules(tz="Pacific/Auckland", hours=[("09:00", "10:00")], window_days=1)
    now = utc(2027, 3, 1, 19, 0)  # Monday in UTC, already Tuesday 08:00 in Auckland

    slots = free_slots(rules, [], now=now, range_start=now, range_end=now + timedelta(days=3))

    assert slots == [utc(2027, 3, 1, 20, 0), utc(2027, 3, 1, 20, 30)]  # Tuesday 09:00, 09:30


def test_it_offers_the_last_slot_before_the_window_closes_but_not_midnight():
    rules = make_rules(hours=[("00:00", "00:00")], window_days=2)
    now = utc(2027, 3, 1, 12, 0)

    assert is_free(rules, [], now=now, start=utc(2027, 3, 2, 23, 30))
    assert not is_free(rules, [], now=now, start=utc(2027, 3, 3, 0, 0))


def test_it_returns_nothing_for_an_empty_range():
    rules = make_rules()

    slots = free_slots(
        rules, [], now=NOW, range_start=utc(2027, 3, 2, 10), range_end=utc(2027, 3, 2, 10)
    )

    assert slots == []


def test_it_offers_nothing_with_a_zero_day_window():
    rules = make_rules(window_days=0)

    assert day_slots(rules, day=NOW.date()) == []


# Rule 5: maximum bookings per day.


def test_it_closes_a_day_that_reached_its_maximum():
    rules = make_rules(hours=[("09:00", "12:00")], max_per_day=2)
    taken = [booking(utc(2027, 3, 2, 9, 0)), booking(utc(2027, 3, 2, 11, 0))]

    assert day_slots(rules, taken) == []


def test_it_keeps_a_day_below_its_maximum_open():
    rules = make_rules(hours=[("09:00", "10:30")], max_per_day=2)

    assert day_slots(rules, [booking(utc(2027, 3, 2, 9, 0))]) == ["09:30", "10:00"]


def test_it_counts_bookings_per_day_by_the_local_date_of_their_start():
    rules = make_rules(tz="America/New_York", hours=[("09:00", "12:00")], max_per_day=1)
    # 03:00 UTC on Wednesday is 22:00 on Tuesday in New York: Tuesday is full.
    taken = [booking(utc(2027, 3, 3, 3, 0))]

    assert day_slots(rules, taken, tz="America/New_York") == []
    assert day_slots(rules, taken, day=date(2027, 3, 3), tz="America/New_York")[0] == "09:00"


def test_it_counts_bookings_outside_working_hours_towards_the_maximum():
    rules = make_rules(hours=[("09:00", "12:00")], max_per_day=1)

    assert day_slots(rules, [booking(utc(2027, 3, 2, 20, 0))]) == []


def test_it_counts_a_group_of_seats_as_several_bookings_for_the_maximum():
    rules = make_rules(hours=[("09:00", "12:00")], seats=5, max_per_day=3)
    taken = [booking(utc(2027, 3, 2, 9, 0)) for _ in range(3)]

    assert day_slots(rules, taken) == []


# is_free agrees with the rules.


def test_it_confirms_a_free_start():
    rules = make_rules(hours=[("09:00", "10:00")])

    assert is_free(rules, [], now=NOW, start=utc(2027, 3, 2, 9, 30))


def test_it_refuses_a_start_off_the_step():
    rules = make_rules(hours=[("09:00", "10:00")])

    assert not is_free(rules, [], now=NOW, start=utc(2027, 3, 2, 9, 15))


def test_it_refuses_a_start_outside_the_hours():
    rules = make_rules(hours=[("09:00", "10:00")])

    assert not is_free(rules, [], now=NOW, start=utc(2027, 3, 2, 10, 0))


def test_it_refuses_a_taken_start():
    rules = make_rules(hours=[("09:00", "10:00")], buffer_after=5)

    assert not is_free(
        rules, [booking(utc(2027, 3, 2, 9, 0))], now=NOW, start=utc(2027, 3, 2, 9, 30)
    )


def test_it_refuses_a_start_inside_the_notice():
    rules = make_rules(hours=[("09:00", "10:00")], min_notice=60)

    assert not is_free(rules, [], now=utc(2027, 3, 2, 8, 31), start=utc(2027, 3, 2, 9, 30))


def test_it_refuses_a_start_beyond_the_window():
    rules = make_rules(hours=[("09:00", "10:00")], window_days=1)

    assert not is_free(rules, [], now=NOW, start=utc(2027, 3, 2, 9, 0))


def test_it_refuses_a_start_on_a_full_day():
    rules = make_rules(hours=[("09:00", "10:00")], max_per_day=1)
    taken = [Busy(start=utc(2027, 3, 2, 18, 0), end=utc(2027, 3, 2, 18, 0) + minutes(30))]

    assert not is_free(rules, taken, now=NOW, start=utc(2027, 3, 2, 9, 0))


def test_it_confirms_a_seat_left_in_a_group_slot():
    rules = make_rules(hours=[("09:00", "10:00")], seats=2)

    assert is_free(rules, [booking(utc(2027, 3, 2, 9, 0))], now=NOW, start=utc(2027, 3, 2, 9, 0))
