"""The engine's integer path (free_slot_micros) and its conversions.

free_slots is a thin wrapper around free_slot_micros, so the property tests in
test_availability_properties.py already check the integer path against the naive reference;
these pin the interface itself: epoch microseconds in and out, exact to the microsecond.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendars.availability import (
    Busy,
    epoch_micros,
    free_slot_micros,
    free_slots,
)
from calendars.availability import (
    from_epoch_micros as moment,
)
from tests.calendars.availability_support import booking, make_rules, minutes, utc
from tests.calendars.test_availability_properties import PROPERTY_SETTINGS, scenarios

NOW = utc(2027, 3, 1, 8)


def micros(busy: list[Busy]) -> list[tuple[int, int]]:
    return [(epoch_micros(b.start), epoch_micros(b.end)) for b in busy]


@PROPERTY_SETTINGS
@given(scenarios())
def test_it_gives_free_slots_answer_in_epoch_microseconds(scenario):
    rules, busy, now, range_start, range_end = scenario

    stamps = free_slot_micros(
        rules, micros(busy), now=now, range_start=range_start, range_end=range_end
    )

    expected = free_slots(rules, busy, now=now, range_start=range_start, range_end=range_end)
    assert [moment(stamp) for stamp in stamps] == expected


def test_it_takes_bookings_as_epoch_microsecond_pairs():
    rules = make_rules(hours=[("09:00", "11:00")])
    taken = booking(utc(2027, 3, 2, 9, 30))

    stamps = free_slot_micros(
        rules, micros([taken]), now=NOW, range_start=utc(2027, 3, 2), range_end=utc(2027, 3, 3)
    )

    assert [moment(stamp) for stamp in stamps] == [
        utc(2027, 3, 2, 9),
        utc(2027, 3, 2, 10),
        utc(2027, 3, 2, 10, 30),
    ]


def test_it_blocks_a_slot_with_a_booking_one_microsecond_into_it():
    rules = make_rules(hours=[("09:00", "10:00")])
    start = utc(2027, 3, 2, 9, 30)
    one = timedelta(microseconds=1)
    # Ends one microsecond after the 09:30 slot starts: overlaps it, exactly as datetimes do.
    busy = [Busy(start - minutes(30) + one, start + one)]

    stamps = free_slot_micros(
        rules, micros(busy), now=NOW, range_start=utc(2027, 3, 2), range_end=utc(2027, 3, 3)
    )

    assert stamps == []


def test_it_refuses_a_naive_now_on_the_integer_path_too():
    rules = make_rules()
    with pytest.raises(ValueError, match="now"):
        free_slot_micros(
            rules, [], now=NOW.replace(tzinfo=None), range_start=NOW, range_end=NOW + minutes(60)
        )


@given(st.datetimes(timezones=st.just(UTC)))
def test_it_converts_instants_to_epoch_microseconds_and_back_exactly(value):
    assert moment(epoch_micros(value)) == value
    assert moment(epoch_micros(value)).tzinfo is UTC


def test_it_counts_epoch_microseconds_from_an_instant_in_any_zone():
    berlin = datetime(2027, 3, 2, 10, 0, 0, 7, tzinfo=timezone(timedelta(hours=1)))
    assert epoch_micros(berlin) == epoch_micros(utc(2027, 3, 2, 9)) + 7
