"""Rule 6 of the engine: external busy time (connected calendars) blocks like a booking,
buffers included, but counts neither toward seats nor toward the daily maximum."""

from datetime import UTC, datetime, time, timedelta

from calendars.availability import Busy, Rules, free_slots, is_free

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
DAY = datetime(2027, 3, 15, tzinfo=UTC)


def rules(**changes) -> Rules:
    values = {
        "timezone": UTC,
        "duration": timedelta(hours=1),
        "interval": timedelta(hours=1),
        "weekly": {0: [(time(9), time(13))]},  # Monday 09:00-13:00: four slots
    }
    values.update(changes)
    return Rules(**values)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def slots(r: Rules, busy: list[Busy]) -> list[int]:
    found = free_slots(r, busy, now=NOW, range_start=DAY, range_end=DAY + timedelta(days=1))
    return [s.hour for s in found]


def test_it_blocks_every_seat_of_a_slot_with_external_time():
    r = rules(seats=3)

    assert slots(r, [Busy(at(10), at(11), external=True)]) == [9, 11, 12]
    assert not is_free(r, [Busy(at(10), at(11), external=True)], now=NOW, start=at(10))


def test_it_keeps_a_seat_free_next_to_a_booking_at_the_same_start():
    r = rules(seats=3)

    assert slots(r, [Busy(at(10), at(11))]) == [9, 10, 11, 12]


def test_it_applies_the_buffers_to_external_time():
    r = rules(buffer_after=timedelta(minutes=30))

    # Blocked 11:15-12:15 (its end plus 30), and each slot reaches 30 past its end.
    assert slots(r, [Busy(at(11, 15), at(11, 45), external=True)]) == [9]


def test_it_does_not_count_external_time_toward_the_daily_maximum():
    r = rules(max_per_day=1)
    busy = [Busy(at(9), at(10), external=True)]

    assert slots(r, busy) == [10, 11, 12]
    assert is_free(r, busy, now=NOW, start=at(11))


def test_it_still_counts_bookings_toward_the_daily_maximum_beside_external_time():
    r = rules(max_per_day=1)

    assert slots(r, [Busy(at(9), at(10)), Busy(at(11), at(12), external=True)]) == []


def test_it_blocks_with_a_span_longer_than_a_day():
    busy = [Busy(DAY - timedelta(days=2), DAY + timedelta(days=2), external=True)]

    assert slots(rules(), busy) == []
