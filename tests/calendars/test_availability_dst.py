"""Local time in the availability engine: DST days, skipped and repeated wall times, dates
that begin at odd instants, and calendars far from the invitee.

2027 transitions used here: New York springs forward on 14 March (02:00 EST -> 03:00 EDT)
and falls back on 7 November (02:00 EDT -> 01:00 EST); Berlin on 28 March (02:00 CET ->
03:00 CEST) and 31 October (03:00 CEST -> 02:00 CET); Santiago skips 00:00-01:00 on
5 September; Apia skipped the whole of 30 December 2011.
"""

from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo

from calendars.availability import free_slots, group_by_local_date, is_free, window_end
from tests.calendars.availability_support import (
    booking,
    local,
    local_day_range,
    make_rules,
    utc,
    wall_times,
)

NOW = utc(2027, 1, 1, 0, 0)
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
NY_SPRING = date(2027, 3, 14)
NY_FALL = date(2027, 11, 7)
BERLIN_SPRING = date(2027, 3, 28)
BERLIN_FALL = date(2027, 10, 31)


def slots_on(rules, tz, day, *, busy=(), now=NOW):
    start, end = local_day_range(tz, day)
    return free_slots(rules, list(busy), now=now, range_start=start, range_end=end)


def calendar(tz, hours, **kwargs):
    kwargs.setdefault("window_days", 400)
    return make_rules(tz=tz, hours=hours, **kwargs)


# New York


def test_it_moves_working_hours_to_the_new_offset_on_new_york_spring_day():
    rules = calendar(NEW_YORK, [("09:00", "17:00")])

    slots = slots_on(rules, NEW_YORK, NY_SPRING)

    assert len(slots) == 16
    assert slots[0] == utc(2027, 3, 14, 13, 0)  # 09:00 EDT
    assert slots[-1] == utc(2027, 3, 14, 20, 30)


def test_it_keeps_the_old_offset_the_day_before_new_york_springs_forward():
    rules = calendar(NEW_YORK, [("09:00", "17:00")])

    slots = slots_on(rules, NEW_YORK, NY_SPRING - timedelta(days=1))

    assert slots[0] == utc(2027, 3, 13, 14, 0)  # 09:00 EST


def test_it_offers_twenty_three_hours_of_slots_on_new_york_spring_day():
    rules = calendar(NEW_YORK, [("00:00", "00:00")], duration=15)

    slots = slots_on(rules, NEW_YORK, NY_SPRING)

    assert len(slots) == 92
    assert slots[0] == utc(2027, 3, 14, 5, 0)
    assert slots[-1] == utc(2027, 3, 15, 3, 45)
    assert "02:00" not in wall_times(slots, NEW_YORK)


def test_it_offers_twenty_five_hours_of_slots_on_new_york_fall_day():
    rules = calendar(NEW_YORK, [("00:00", "00:00")], duration=15)

    slots = slots_on(rules, NEW_YORK, NY_FALL)

    assert len(slots) == 100
    assert slots[0] == utc(2027, 11, 7, 4, 0)  # 00:00 EDT
    assert slots[-1] == utc(2027, 11, 8, 4, 45)  # 23:45 EST
    assert wall_times(slots, NEW_YORK).count("01:30") == 2


def test_it_measures_an_interval_across_the_new_york_gap_in_absolute_time():
    rules = calendar(NEW_YORK, [("00:00", "06:00")], duration=60)

    slots = slots_on(rules, NEW_YORK, NY_SPRING)

    assert slots == [utc(2027, 3, 14, hour) for hour in (5, 6, 7, 8, 9)]
    assert wall_times(slots, NEW_YORK) == ["00:00", "01:00", "03:00", "04:00", "05:00"]


def test_it_measures_an_interval_across_the_repeated_new_york_hour_in_absolute_time():
    rules = calendar(NEW_YORK, [("00:00", "06:00")], duration=60)

    slots = slots_on(rules, NEW_YORK, NY_FALL)

    assert slots == [utc(2027, 11, 7, hour) for hour in range(4, 11)]
    assert wall_times(slots, NEW_YORK) == [
        "00:00", "01:00", "01:00", "02:00", "03:00", "04:00", "05:00",
    ]  # fmt: skip


def test_it_steps_in_absolute_time_across_the_gap():
    rules = calendar(NEW_YORK, [("01:00", "05:00")], duration=45)

    slots = slots_on(rules, NEW_YORK, NY_SPRING)

    # 01:00 EST to 05:00 EDT is three real hours.
    assert slots == [
        utc(2027, 3, 14, 6, 0),
        utc(2027, 3, 14, 6, 45),
        utc(2027, 3, 14, 7, 30),
        utc(2027, 3, 14, 8, 15),
    ]


def test_it_shifts_a_start_in_the_skipped_hour_forward_by_the_gap():
    rules = calendar(NEW_YORK, [("02:30", "04:00")], duration=30)

    slots = slots_on(rules, NEW_YORK, NY_SPRING)

    assert slots == [utc(2027, 3, 14, 7, 30)]  # 03:30 EDT
    assert wall_times(slots, NEW_YORK) == ["03:30"]


def test_it_starts_at_the_jump_when_an_interval_starts_at_the_skipped_hour():
    rules = calendar(NEW_YORK, [("02:00", "04:00")], duration=30)

    slots = slots_on(rules, NEW_YORK, NY_SPRING)

    assert wall_times(slots, NEW_YORK) == ["03:00", "03:30"]


def test_it_drops_an_interval_that_ends_before_its_shifted_start():
    # 02:30 does not exist and becomes 03:30 EDT, after the 03:15 end.
    rules = calendar(NEW_YORK, [("02:30", "03:15")], duration=15)

    assert slots_on(rules, NEW_YORK, NY_SPRING) == []


def test_it_reads_an_ambiguous_start_as_the_first_occurrence():
    rules = calendar(NEW_YORK, [("01:30", "03:00")], duration=30)

    slots = slots_on(rules, NEW_YORK, NY_FALL)

    # From 01:30 EDT (05:30 UTC) to 03:00 EST (08:00 UTC): five half hours.
    # (Compared in UTC: PEP 495 makes == across zones False for a time in a fold.)
    assert slots[0] == local(NEW_YORK, 2027, 11, 7, 1, 30, fold=0).astimezone(UTC)
    assert slots == [utc(2027, 11, 7, 5, 30) + timedelta(minutes=30 * n) for n in range(5)]


def test_it_reads_an_ambiguous_end_as_the_first_occurrence():
    rules = calendar(NEW_YORK, [("00:00", "01:30")], duration=30)

    slots = slots_on(rules, NEW_YORK, NY_FALL)

    assert slots == [utc(2027, 11, 7, 4, 0), utc(2027, 11, 7, 4, 30), utc(2027, 11, 7, 5, 0)]


def test_it_blocks_a_booking_in_the_repeated_hour_by_its_instant():
    rules = calendar(NEW_YORK, [("00:00", "04:00")], duration=60)
    second_one_am = local(NEW_YORK, 2027, 11, 7, 1, 0, fold=1)  # 01:00 EST

    slots = slots_on(rules, NEW_YORK, NY_FALL, busy=[booking(second_one_am, 60)])

    assert utc(2027, 11, 7, 5, 0) in slots  # 01:00 EDT stays free
    assert utc(2027, 11, 7, 6, 0) not in slots


def test_it_counts_bookings_of_the_long_fall_day_towards_its_maximum():
    rules = calendar(NEW_YORK, [("09:00", "17:00")], max_per_day=1)
    # 23:30 EST on the 25-hour day is 04:30 UTC the next morning.
    late = booking(utc(2027, 11, 8, 4, 30))

    assert slots_on(rules, NEW_YORK, NY_FALL, busy=[late]) == []
    assert slots_on(rules, NEW_YORK, NY_FALL + timedelta(days=1), busy=[late]) != []


def test_it_ends_the_window_at_local_midnight_after_a_dst_change():
    rules = calendar(NEW_YORK, [("09:00", "17:00")], window_days=2)
    now = local(NEW_YORK, 2027, 3, 13, 12, 0)

    assert window_end(rules, now=now) == utc(2027, 3, 15, 4, 0)  # midnight EDT


# Berlin


def test_it_moves_working_hours_to_summer_time_on_berlin_spring_day():
    rules = calendar(BERLIN, [("09:00", "17:00")], duration=60)

    slots = slots_on(rules, BERLIN, BERLIN_SPRING)

    assert len(slots) == 8
    assert slots[0] == utc(2027, 3, 28, 7, 0)  # 09:00 CEST
    assert slots[-1] == utc(2027, 3, 28, 14, 0)


def test_it_moves_working_hours_to_winter_time_on_berlin_fall_day():
    rules = calendar(BERLIN, [("09:00", "17:00")], duration=60)

    slots = slots_on(rules, BERLIN, BERLIN_FALL)

    assert len(slots) == 8
    assert slots[0] == utc(2027, 10, 31, 8, 0)  # 09:00 CET


def test_it_skips_the_missing_berlin_hour():
    rules = calendar(BERLIN, [("01:00", "04:00")], duration=60)

    slots = slots_on(rules, BERLIN, BERLIN_SPRING)

    assert slots == [utc(2027, 3, 28, 0, 0), utc(2027, 3, 28, 1, 0)]
    assert wall_times(slots, BERLIN) == ["01:00", "03:00"]


def test_it_offers_the_repeated_berlin_hour_twice():
    rules = calendar(BERLIN, [("01:00", "04:00")], duration=60)

    slots = slots_on(rules, BERLIN, BERLIN_FALL)

    # 01:00 CEST is 23:00 UTC on the previous date.
    assert slots == [
        utc(2027, 10, 30, 23, 0),
        utc(2027, 10, 31, 0, 0),
        utc(2027, 10, 31, 1, 0),
        utc(2027, 10, 31, 2, 0),
    ]
    assert wall_times(slots, BERLIN) == ["01:00", "02:00", "02:00", "03:00"]


def test_it_counts_slots_of_a_whole_berlin_fall_day():
    rules = calendar(BERLIN, [("00:00", "00:00")], duration=30)

    assert len(slots_on(rules, BERLIN, BERLIN_FALL)) == 50
    assert len(slots_on(rules, BERLIN, BERLIN_SPRING)) == 46


def test_it_agrees_with_is_free_on_the_repeated_berlin_hour():
    rules = calendar(BERLIN, [("01:00", "04:00")], duration=60)
    busy = [booking(utc(2027, 10, 31, 0, 0), 60)]

    slots = slots_on(rules, BERLIN, BERLIN_FALL, busy=busy)

    for hour in range(-1, 3):
        start = utc(2027, 10, 31, 0, 0) + timedelta(hours=hour)
        assert is_free(rules, busy, now=NOW, start=start) == (start in slots)


# Dates that begin at an odd instant


def test_it_begins_a_santiago_date_whose_midnight_is_skipped_at_one_am():
    rules = calendar("America/Santiago", [("00:00", "02:00")], duration=60)

    slots = slots_on(rules, "America/Santiago", date(2027, 9, 5))

    # 00:00 does not exist: the interval runs from 01:00 -03 (04:00 UTC) to 02:00 -03.
    assert slots == [utc(2027, 9, 5, 4, 0)]
    assert is_free(rules, [], now=NOW, start=utc(2027, 9, 5, 4, 0))


def test_it_counts_bookings_on_a_date_whose_midnight_is_skipped():
    rules = calendar("America/Santiago", [("09:00", "10:00")], duration=60, max_per_day=1)
    first_minute = booking(utc(2027, 9, 5, 4, 0))  # 01:00 -03, the date's first instant

    assert slots_on(rules, "America/Santiago", date(2027, 9, 5), busy=[first_minute]) == []


def test_it_offers_a_skipped_apia_date_once_on_the_next_date():
    tz = "Pacific/Apia"
    rules = make_rules(tz=tz, hours=[("09:00", "10:00")], duration=60, window_days=30)
    now = utc(2011, 12, 20, 0, 0)

    slots = slots_on(rules, tz, date(2011, 12, 31), now=now)

    # 30 December never happened in Apia; its 09:00 (at -10) is 31 December 09:00 (+14).
    assert slots == [utc(2011, 12, 30, 19, 0)]
    assert is_free(rules, [], now=now, start=utc(2011, 12, 30, 19, 0))


# A calendar far from its invitee: the engine answers in UTC, the caller regroups.

AUCKLAND = "Pacific/Auckland"  # +13:00 in March (NZDT)
HONOLULU = "Pacific/Honolulu"  # -10:00, no DST


def test_it_places_auckland_noon_slots_on_both_sides_of_midnight_utc():
    rules = calendar(AUCKLAND, [("12:00", "14:00")])

    slots = slots_on(rules, AUCKLAND, date(2027, 3, 2))

    assert slots == [
        utc(2027, 3, 1, 23, 0),
        utc(2027, 3, 1, 23, 30),
        utc(2027, 3, 2, 0, 0),
        utc(2027, 3, 2, 0, 30),
    ]


def test_it_shows_auckland_tuesday_slots_on_honolulu_monday():
    rules = calendar(AUCKLAND, [("12:00", "14:00")])

    grouped = group_by_local_date(slots_on(rules, AUCKLAND, date(2027, 3, 2)), ZoneInfo(HONOLULU))

    assert list(grouped) == [date(2027, 3, 1)]
    assert [slot.strftime("%H:%M %z") for slot in grouped[date(2027, 3, 1)]] == [
        "13:00 -1000", "13:30 -1000", "14:00 -1000", "14:30 -1000",
    ]  # fmt: skip


def test_it_answers_a_honolulu_day_with_slots_from_two_auckland_dates():
    rules = calendar(AUCKLAND, [("08:00", "09:00"), ("23:00", "00:00")])
    honolulu_start, honolulu_end = local_day_range(HONOLULU, date(2027, 3, 2))

    slots = free_slots(rules, [], now=NOW, range_start=honolulu_start, range_end=honolulu_end)
    grouped = group_by_local_date(slots, ZoneInfo(AUCKLAND))

    # Honolulu's 2 March is 2 March 23:00 to 3 March 23:00 in Auckland.
    assert [slot.strftime("%d %H:%M") for day in grouped.values() for slot in day] == [
        "02 23:00", "02 23:30", "03 08:00", "03 08:30",
    ]  # fmt: skip


def test_it_limits_honolulu_window_by_the_auckland_date():
    rules = calendar(HONOLULU, [("20:00", "22:00")], window_days=1)
    now = local(HONOLULU, 2027, 3, 1, 8, 0)

    slots = free_slots(rules, [], now=now, range_start=now, range_end=now + timedelta(days=3))

    # Only Monday in Honolulu, which is already Tuesday in Auckland.
    assert [slot.astimezone(ZoneInfo(AUCKLAND)).strftime("%a %H:%M") for slot in slots] == [
        "Tue 19:00", "Tue 19:30", "Tue 20:00", "Tue 20:30",
    ]  # fmt: skip
