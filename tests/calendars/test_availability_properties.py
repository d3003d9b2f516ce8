"""Property-based tests of the availability engine (hypothesis).

Random calendars in zones with DST, half-hour offsets, a skipped midnight and a 30-minute
DST shift, around their transition dates, against random bookings. The engine must agree
with a deliberately naive reference (every candidate against every booking) and with
is_free, never offer a slot that overlaps a buffered booking or leaves its interval, and
give the same answer for a range as for its pieces.
"""

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.availability import Busy, Rules, free_slots, is_free

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Each zone with the Saturday before one of its 2027 transitions (the clocks jump on the
# Sunday, or at Saturday midnight in Santiago), so random hours often straddle a jump.
SCENES = [
    ("America/New_York", date(2027, 3, 13)),
    ("America/New_York", date(2027, 11, 6)),
    ("Europe/Berlin", date(2027, 3, 27)),
    ("Europe/Berlin", date(2027, 10, 30)),
    ("America/Santiago", date(2027, 4, 3)),
    ("America/Santiago", date(2027, 9, 4)),
    ("Pacific/Auckland", date(2027, 4, 3)),
    ("Pacific/Auckland", date(2027, 9, 25)),
    ("Australia/Lord_Howe", date(2027, 4, 3)),
    ("Australia/Lord_Howe", date(2027, 10, 2)),
    ("Asia/Kolkata", date(2027, 6, 12)),
    ("Pacific/Honolulu", date(2027, 3, 13)),
    ("UTC", date(2027, 6, 12)),
]


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# 5-minute marks of a day (288 = the next midnight), many of them in 00:00-04:00 or
# 23:00-24:00, where the clocks of these zones jump.
MARKS = st.integers(0, 288) | st.integers(0, 48) | st.integers(276, 288)


@st.composite
def wall_intervals(draw) -> list[tuple[time, time]]:
    """One or two intervals, sometimes touching, overlapping or out of order (the engine
    must not rely on tidy input); an end of 00:00 means the end of the day."""
    start = draw(MARKS)
    result = []
    for _ in range(draw(st.sampled_from([1, 1, 2]))):
        end = min(start + draw(st.sampled_from([3, 6, 12, 18, 24, 48, 96, 200, 288])), 288)
        if end <= start:
            break
        result.append((_mark(start), _mark(end)))
        start = max(0, end + draw(st.sampled_from([-6, 0, 1, 6, 24])))
    if result and draw(st.integers(0, 9)) == 0:
        result.append(result[0])  # the same interval twice
    return result[::-1] if draw(st.booleans()) else result


WALL_INTERVALS = wall_intervals()


def _mark(index: int) -> time:
    total = (index * 5) % (24 * 60)
    return time(total // 60, total % 60)


@st.composite
def scenarios(draw, *, seats=None):
    zone, base = draw(st.sampled_from(SCENES))
    tz = ZoneInfo(zone)
    now = datetime.combine(base, time(0), tzinfo=UTC) + minutes(5 * draw(st.integers(0, 576)))
    override_days = draw(
        st.lists(st.integers(-1, 6).map(lambda n: base + timedelta(days=n)), max_size=3)
    )
    # A few distinct days (drawn once) spread over the week keep generation cheap; the
    # last pattern is a closed day.
    patterns = [*draw(st.lists(WALL_INTERVALS, min_size=1, max_size=3)), []]
    choice = st.integers(0, len(patterns) - 1)
    weekly = [patterns[i] for i in draw(st.lists(choice, min_size=7, max_size=7))]
    closed = st.just([])
    rules = Rules(
        timezone=tz,
        duration=minutes(5 * draw(st.integers(1, 24))),
        interval=minutes(5 * draw(st.integers(1, 24))),
        buffer_before=minutes(5 * draw(st.integers(0, 6))),
        buffer_after=minutes(5 * draw(st.integers(0, 6))),
        min_notice=minutes(15 * draw(st.integers(0, 40))),
        window_days=draw(st.sampled_from(range(10))),
        seats=seats if seats is not None else draw(st.integers(1, 3)),
        max_per_day=draw(st.sampled_from([None, None, 1, 2, 3, 5])),
        weekly=dict(enumerate(weekly)),
        overrides={day: draw(WALL_INTERVALS | closed) for day in override_days},
    )
    # Seats are only interesting when bookings share a candidate's start: put some there.
    starts = reference_candidates(rules, base - timedelta(days=1), base + timedelta(days=8))
    busy = []
    for _ in range(draw(st.sampled_from(range(26)))):
        if starts and draw(st.booleans()):
            start = draw(st.sampled_from(starts))
        else:
            start = now + minutes(5 * draw(st.integers(-288, 6 * 288)))
        busy.append(Busy(start=start, end=start + minutes(5 * draw(st.integers(0, 36)))))
    range_start = now + minutes(5 * draw(st.integers(-72, 288)))
    days = timedelta(days=draw(st.sampled_from(range(9))))
    length = days + minutes(5 * draw(st.integers(12, 288)))
    range_end = range_start + length
    return rules, busy, now, range_start, range_end


# The reference: every rule spelled out the slow, obvious way.


def _instant(tz: ZoneInfo, day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)  # fold=0


def reference_intervals(rules: Rules, day: date) -> list[tuple[datetime, datetime]]:
    walls = rules.overrides[day] if day in rules.overrides else rules.weekly.get(day.weekday(), [])
    result = []
    for wall_start, wall_end in walls:
        start = _instant(rules.timezone, day, wall_start)
        if wall_end == time(0):
            end = _instant(rules.timezone, day + timedelta(days=1), time(0))
        else:
            end = _instant(rules.timezone, day, wall_end)
        result.append((start, end))
    return result


def reference_candidates(rules: Rules, first: date, last: date) -> list[datetime]:
    found = []
    day = first
    while day <= last:
        for start, end in reference_intervals(rules, day):
            slot = start
            while slot + rules.duration <= end:
                found.append(slot)
                slot += rules.interval
        day += timedelta(days=1)
    return found


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


def reference_free(rules, busy, now, range_start, range_end) -> list[datetime]:
    tz = rules.timezone
    today = now.astimezone(tz).date()
    window_end = _instant(tz, today + timedelta(days=rules.window_days), time(0))
    found = set()
    day = range_start.astimezone(tz).date() - timedelta(days=2)
    while day <= range_end.astimezone(tz).date() + timedelta(days=1):
        for start, end in reference_intervals(rules, day):
            slot = start
            while slot + rules.duration <= end:
                if not _reference_day_full(rules, busy, slot) and _reference_slot_free(
                    rules, busy, slot
                ):
                    found.add(slot)
                slot += rules.interval
        day += timedelta(days=1)
    earliest = now + rules.min_notice
    return sorted(s for s in found if range_start <= s < range_end and earliest <= s < window_end)


def _reference_day_full(rules, busy, slot) -> bool:
    if rules.max_per_day is None:
        return False
    day = slot.astimezone(rules.timezone).date()
    on_day = sum(1 for b in busy if b.start.astimezone(rules.timezone).date() == day)
    return on_day >= rules.max_per_day


def _reference_slot_free(rules, busy, slot) -> bool:
    own_start = slot - rules.buffer_before
    own_end = slot + rules.duration + rules.buffer_after
    exact = 0
    for b in busy:
        if b.start == slot:
            exact += 1
        elif _overlaps(
            own_start, own_end, b.start - rules.buffer_before, b.end + rules.buffer_after
        ):
            return False
    return exact < rules.seats


def run(scenario) -> list[datetime]:
    rules, busy, now, range_start, range_end = scenario
    return free_slots(rules, busy, now=now, range_start=range_start, range_end=range_end)


@PROPERTY_SETTINGS
@given(scenarios())
def test_it_matches_the_naive_reference(scenario):
    assert run(scenario) == reference_free(*scenario)


@PROPERTY_SETTINGS
@given(scenarios(seats=1))
def test_it_never_offers_a_slot_overlapping_a_buffered_booking(scenario):
    rules, busy, *_ = scenario

    for slot in run(scenario):
        for b in busy:
            assert not _overlaps(
                slot - rules.buffer_before,
                slot + rules.duration + rules.buffer_after,
                b.start - rules.buffer_before,
                b.end + rules.buffer_after,
            )


@PROPERTY_SETTINGS
@given(scenarios())
def test_it_keeps_every_slot_inside_an_interval_of_its_date(scenario):
    rules = scenario[0]

    for slot in run(scenario):
        local_day = slot.astimezone(rules.timezone).date()
        # A start pushed over midnight by a gap belongs to the previous date's hours.
        assert any(
            start <= slot
            and slot + rules.duration <= end
            and (slot - start) % rules.interval == timedelta(0)
            for day in (local_day, local_day - timedelta(days=1))
            for start, end in reference_intervals(rules, day)
        )


@PROPERTY_SETTINGS
@given(scenarios())
def test_it_returns_sorted_unique_utc_slots_inside_range_notice_and_window(scenario):
    rules, _, now, range_start, range_end = scenario
    today = now.astimezone(rules.timezone).date()
    window_end = _instant(rules.timezone, today + timedelta(days=rules.window_days), time(0))

    slots = run(scenario)

    assert slots == sorted(set(slots))
    assert all(slot.tzinfo is UTC for slot in slots)
    assert all(range_start <= slot < range_end for slot in slots)
    assert all(now + rules.min_notice <= slot < window_end for slot in slots)


@PROPERTY_SETTINGS
@given(scenarios())
def test_it_never_offers_a_slot_on_a_full_date(scenario):
    rules, busy, *_ = scenario
    if rules.max_per_day is None:
        return
    tz = rules.timezone

    for slot in run(scenario):
        day = slot.astimezone(tz).date()
        assert sum(1 for b in busy if b.start.astimezone(tz).date() == day) < rules.max_per_day


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_it_agrees_with_is_free(scenario, data):
    rules, busy, now, range_start, range_end = scenario
    slots = run(scenario)
    span = int((range_end - range_start) / minutes(5))
    probes = data.draw(st.lists(st.integers(0, max(span, 0)), max_size=20))
    starts = set(slots) | {range_start + minutes(5 * n) for n in probes}

    for start in starts:
        if range_start <= start < range_end:
            assert is_free(rules, busy, now=now, start=start) == (start in slots)


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_it_gives_a_range_the_union_of_its_pieces(scenario, data):
    rules, busy, now, range_start, range_end = scenario
    span = int((range_end - range_start) / timedelta(seconds=1))
    cuts = sorted(data.draw(st.lists(st.integers(0, span), max_size=4)))
    edges = [range_start, *(range_start + timedelta(seconds=c) for c in cuts), range_end]

    pieces = []
    for low, high in itertools.pairwise(edges):
        pieces.extend(free_slots(rules, busy, now=now, range_start=low, range_end=high))

    assert pieces == run(scenario)


@PROPERTY_SETTINGS
@given(scenarios())
def test_it_ignores_the_order_of_bookings(scenario):
    rules, busy, now, range_start, range_end = scenario

    reordered = free_slots(rules, busy[::-1], now=now, range_start=range_start, range_end=range_end)

    assert reordered == run(scenario)
