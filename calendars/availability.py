"""The availability engine: a pure function from rules, busy time and "now" to free slots.

No database, no Django settings: everything comes in as arguments, so it can be tested
fast and exhaustively. See `free_slots` for the rules.

INTERFACE (fixed; other modules depend on it):

    @dataclass(frozen=True, slots=True)
    class Rules:
        timezone: ZoneInfo
        duration: timedelta
        interval: timedelta              # slot interval (step between candidate starts)
        buffer_before: timedelta = 0
        buffer_after: timedelta = 0
        min_notice: timedelta = 0
        window_days: int = 60            # 1 = today only (local to the calendar)
        seats: int = 1
        max_per_day: int | None = None
        weekly: Mapping[int, Sequence[tuple[time, time]]]   # weekday 0=Monday -> intervals
        overrides: Mapping[date, Sequence[tuple[time, time]]]  # date -> intervals ([] = closed)

    @dataclass(frozen=True, slots=True)
    class Busy:
        start: datetime   # aware; a confirmed booking's own start and end (no buffers)
        end: datetime
        external: bool = False  # busy time from a connected calendar (see rule 6)

    def free_slots(rules: Rules, busy: Sequence[Busy], *, now: datetime,
                   range_start: datetime, range_end: datetime) -> list[datetime]
        # aware UTC datetimes of free slot starts with range_start <= start < range_end,
        # sorted ascending.

    def is_free(rules, busy, *, now, start: datetime) -> bool
        # whether `start` is one of the free slot starts.

    def free_slot_micros(rules, busy: Sequence[tuple[int, int]], *, now: datetime,
                         range_start: datetime, range_end: datetime,
                         external: Sequence[tuple[int, int]] = ()) -> list[int]
        # free_slots with bookings and slot starts as epoch microseconds (UTC): the same
        # computation (free_slots is a wrapper around it) for callers that would otherwise
        # build a datetime per booking and per slot. See `epoch_micros` / `from_epoch_micros`.

Extra pure helpers for callers: `window_end` (first instant after the booking window),
`day_start` / `wall_to_utc` (local wall time to a UTC instant, by the rules below),
`day_intervals` (a date's working intervals as instants) and `group_by_local_date` (slots
regrouped by date in a viewer's timezone).

Inside, instants are integers (microseconds since the epoch, UTC), not datetimes: the
candidate and sweep loops run once per slot and booking on the hot API path, and integer
arithmetic there costs a fraction of datetime arithmetic. Microseconds, not seconds, because
that is datetime's resolution: the integer path gives exactly the datetime path's answers.

Wall-clock conventions (decided here, tested in tests/calendars/test_availability_dst.py):

- A wall-clock time on a date becomes an instant with `fold=0` (PEP 495). For an ambiguous
  time (the repeated hour when clocks go back) that is the FIRST occurrence. For a time that
  does not exist (the skipped hour when clocks go forward) it is the time read with the
  offset in force before the jump, i.e. the time shifted forward by the length of the gap:
  02:30 on New York's spring-forward day is 03:30 EDT. An interval "02:00-04:00" on that day
  therefore runs 03:00-04:00 EDT (one hour), and on the fall-back day "01:00-03:00" runs from
  the first 01:00 EDT to 03:00 EST (three hours).
- An interval whose end is `time(0)` ends at midnight at the END of its date (24:00, which
  `datetime.time` cannot hold). The models currently forbid it (end must be after start), so
  it only matters to callers that build Rules by hand. Any other interval whose end is not
  after its start, once both are instants, is empty.
- A local date runs from its first instant (its 00:00 with the rule above) to the next
  date's; a booking belongs to the local date its start falls in (rule 5).
"""

import itertools
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

Intervals = Sequence[tuple[time, time]]
# Bookings as (start, end): in UTC, checked aware (is_free), or in epoch microseconds (the
# free_slots sweep).
_Spans = list[tuple[datetime, datetime]]
_MicroSpans = Sequence[tuple[int, int]]

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Rules:
    timezone: ZoneInfo
    duration: timedelta
    interval: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    window_days: int = 60
    seats: int = 1
    max_per_day: int | None = None
    weekly: Mapping[int, Intervals] = field(default_factory=dict)
    overrides: Mapping[date, Intervals] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Busy:
    start: datetime
    end: datetime
    # Busy time read from a connected calendar (CalDAV, ICS), not a booking: rule 6.
    external: bool = False


def free_slots(
    rules: Rules,
    busy: Sequence[Busy],
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
) -> list[datetime]:
    """Free slot starts in `[range_start, range_end)`, as aware UTC datetimes, ascending.

    1. On each local date, each interval of that date (the override if the date has one,
       an empty override meaning closed, else the weekday's weekly hours) becomes two
       instants (see the module docstring for DST). Candidates step by `interval` in
       absolute time from the interval's start and are kept while `start + duration <= end`.
    2. A booking blocks `[start - buffer_before, end + buffer_after)`; a candidate whose own
       `[start - buffer_before, start + duration + buffer_after)` overlaps a blocked range
       is not free. Buffers may fall outside working hours.
    3. With `seats > 1` a candidate stays free while the bookings starting exactly at it
       are fewer than `seats` and no booking with another start overlaps it (with buffers,
       as in rule 2). With one seat this is rule 2.
    4. Free only if `start >= now + min_notice` and `start` is before the first instant of
       local date `today + window_days` ("today" is `now`'s date in the calendar timezone).
    5. With `max_per_day`, a local date that already holds that many bookings (counted by
       the local date of their start) offers no slot starting on it.
    6. External busy time (`Busy.external`, from the owner's connected calendars) blocks a
       candidate as in rule 2, buffers included, whatever the seats, and counts neither
       toward seats (rule 3) nor toward `max_per_day` (rule 5).

    `busy` must hold every confirmed booking that can matter: those within duration +
    both buffers of the range and, with `max_per_day`, all those on the local dates the
    range touches. More is harmless; order does not matter; any timezone will do.

    Cost: O(days + slots + bookings log bookings): bookings are sorted once and swept
    against the candidates in order, never compared pairwise.
    """
    bookings = [b for b in busy if not b.external]
    external = [b for b in busy if b.external]
    micros = free_slot_micros(
        rules,
        _micro_spans(bookings),
        now=now,
        range_start=range_start,
        range_end=range_end,
        external=_micro_spans(external),
    )
    return datetimes_from_epoch_micros(micros)


def free_slot_micros(
    rules: Rules,
    busy: Sequence[tuple[int, int]],
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
    external: Sequence[tuple[int, int]] = (),
) -> list[int]:
    """`free_slots` in integers: `busy` (bookings) and `external` (connected calendars'
    busy time, rule 6) as (start, end) pairs and the free starts returned as epoch
    microseconds (UTC), ascending. Same rules, same answers (free_slots calls it).

    For callers that read bookings as numbers and write slots as text: no datetime is made
    per booking or per slot.
    """
    _check_rules(rules)
    now = _utc(now, "now")
    range_start = _utc(range_start, "range_start")
    range_end = _utc(range_end, "range_end")
    tz = rules.timezone

    earliest = max(range_start, now + rules.min_notice)
    latest = min(range_end, window_end(rules, now=now))
    if earliest >= latest:
        return []

    # A candidate produced by date d starts on d, or on d + 1 when a gap that crosses
    # midnight pushed it forward, so the day before the first local date is included.
    first_day = earliest.astimezone(tz).date()
    last_day = (latest - _MICROSECOND).astimezone(tz).date()

    low, high = epoch_micros(earliest), epoch_micros(latest)
    step, duration = _micros(rules.interval), _micros(rules.duration)
    candidates: list[int] = []
    in_order = True
    day = first_day - _ONE_DAY
    while day <= last_day:
        for start, end in _day_spans(rules, day):
            size = len(candidates)
            _extend_steps(candidates, start, end, step, duration, low, high)
            # Intervals of a day may come in any order or overlap (the engine does not trust
            # its input to be tidy); only then is a sort needed.
            if in_order and 0 < size < len(candidates):
                in_order = candidates[size] > candidates[size - 1]
        day += _ONE_DAY
    if not candidates:
        return []
    if not in_order:
        # Untidy hours only: repeated starts dropped, then sorted (both in C).
        candidates = sorted(set(candidates))
    if rules.max_per_day is not None:
        candidates = _drop_full_days(rules, busy, candidates, first_day, last_day)
    free = _sweep(rules, busy, candidates)
    if external and free:
        # One seat's sweep: an external span fills every seat, and it is never counted.
        buffers = _micros(rules.buffer_before + rules.buffer_after)
        free = _sweep_one_seat(external, free, _micros(rules.duration) + buffers, buffers)
    return free


def is_free(rules: Rules, busy: Sequence[Busy], *, now: datetime, start: datetime) -> bool:
    """Whether `start` is one of `free_slots`' starts; looks at that start's date only."""
    _check_rules(rules)
    now = _utc(now, "now")
    start = _utc(start, "start")
    if start < now + rules.min_notice or start >= window_end(rules, now=now):
        return False
    local_day = start.astimezone(rules.timezone).date()
    # The day before may have produced this start (see free_slots); check both.
    if not (_produces(rules, local_day, start) or _produces(rules, local_day - _ONE_DAY, start)):
        return False
    # In datetimes: one start against each booking once, so nothing to gain from integers.
    spans = _spans([b for b in busy if not b.external])
    if _day_is_full(rules, spans, local_day):
        return False
    external = _spans([b for b in busy if b.external])
    if external and _blocked(replace(rules, seats=1), external, start):
        return False
    return not _blocked(rules, spans, start)


def window_end(rules: Rules, *, now: datetime) -> datetime:
    """The first instant (UTC) after the booking window: local midnight of today + window."""
    today = _utc(now, "now").astimezone(rules.timezone).date()
    return day_start(rules.timezone, today + timedelta(days=rules.window_days))


def day_start(tz: ZoneInfo, day: date) -> datetime:
    """The first instant (UTC) of a local date."""
    return wall_to_utc(tz, day, _MIDNIGHT)


def wall_to_utc(tz: ZoneInfo, day: date, wall: time) -> datetime:
    """A wall-clock time on a local date as a UTC instant (fold=0; see module docstring)."""
    return from_epoch_micros(_wall_micros(tz, day, wall))


def day_intervals(rules: Rules, day: date) -> list[tuple[datetime, datetime]]:
    """The working intervals of a local date as UTC instants, empty ones dropped."""
    spans = _day_spans(rules, day)
    return [(from_epoch_micros(start), from_epoch_micros(end)) for start, end in spans]


def group_by_local_date(slots: Iterable[datetime], tz: ZoneInfo) -> dict[date, list[datetime]]:
    """Slots (sorted) as {local date: [aware datetimes in tz]}, for a viewer's timezone."""
    grouped: dict[date, list[datetime]] = {}
    for slot in slots:
        local = slot.astimezone(tz)
        grouped.setdefault(local.date(), []).append(local)
    return grouped


def epoch_micros(value: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, unlike `timestamp()`)."""
    return (value - _EPOCH) // _MICROSECOND


def from_epoch_micros(value: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    seconds, micros = divmod(value, 1_000_000)
    # fromtimestamp with an int is exact and twice as fast as epoch + timedelta.
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.replace(microsecond=micros) if micros else moment


def datetimes_from_epoch_micros(values: Iterable[int]) -> list[datetime]:
    """from_epoch_micros over many values (free slot starts, usually whole seconds)."""
    stamp = datetime.fromtimestamp
    # A third cheaper per value than from_epoch_micros for whole seconds, the usual case.
    return [
        stamp(value // 1_000_000, UTC) if not value % 1_000_000 else from_epoch_micros(value)
        for value in values
    ]


def _micros(value: timedelta) -> int:
    return value // _MICROSECOND


def _check_rules(rules: Rules) -> None:
    # A zero step would loop forever; a zero duration would make every slot free of overlap.
    if rules.interval <= _ZERO:
        raise ValueError("Rules.interval must be positive.")
    if rules.duration <= _ZERO:
        raise ValueError("Rules.duration must be positive.")


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime.")
    return value.astimezone(UTC)


def _spans(busy: Sequence[Busy]) -> _Spans:
    spans = []
    for booking in busy:
        start, end = booking.start, booking.end
        if start.tzinfo is not UTC:
            start = _utc(start, "Busy.start")
        if end.tzinfo is not UTC:
            end = _utc(end, "Busy.end")
        spans.append((start, end))
    return spans


def _micro_spans(busy: Sequence[Busy]) -> list[tuple[int, int]]:
    try:
        # Subtracting works for an aware datetime in any zone; one pass, no astimezone.
        return [
            ((booking.start - _EPOCH) // _MICROSECOND, (booking.end - _EPOCH) // _MICROSECOND)
            for booking in busy
        ]
    except TypeError:  # a naive datetime: refused with the field's name
        _spans(busy)
        raise


def _day_spans(rules: Rules, day: date) -> list[tuple[int, int]]:
    """day_intervals in epoch microseconds (runs once per day of a range)."""
    # An override replaces the weekday's hours entirely; an empty one closes the date.
    walls = rules.overrides.get(day)
    if walls is None:
        walls = rules.weekly.get(day.weekday(), ())
    tz = rules.timezone
    result = []
    for wall_start, wall_end in walls:
        start = _wall_micros(tz, day, wall_start)
        if wall_end == _MIDNIGHT:
            end = _wall_micros(tz, day + _ONE_DAY, _MIDNIGHT)
        else:
            end = _wall_micros(tz, day, wall_end)
        if end > start:
            result.append((start, end))
    return result


def _wall_micros(tz: ZoneInfo, day: date, wall: time) -> int:
    """wall_to_utc in epoch microseconds. Subtracting an aware datetime applies its
    offset (fold=0) just as astimezone does, without building the UTC datetime."""
    if wall.tzinfo is not None or wall.fold:
        wall = wall.replace(tzinfo=None, fold=0)
    return (datetime.combine(day, wall, tzinfo=tz) - _EPOCH) // _MICROSECOND


def _extend_steps(
    into: list[int], start: int, end: int, step: int, duration: int, low: int, high: int
) -> None:
    """Append the steps of one interval that lie in [low, high), in order."""
    first = start
    if first < low:
        first = start + step * -((start - low) // step)  # the first step at or after low
    # Kept while first + duration <= end: in integers, up to end - duration inclusive.
    into.extend(range(first, min(end - duration + 1, high), step))


def _produces(rules: Rules, day: date, start: datetime) -> bool:
    for interval_start, interval_end in day_intervals(rules, day):
        if (
            interval_start <= start
            and start + rules.duration <= interval_end
            and (start - interval_start) % rules.interval == _ZERO
        ):
            return True
    return False


def _drop_full_days(
    rules: Rules, busy: _MicroSpans, slots: list[int], first_day: date, last_day: date
) -> list[int]:
    """Rule 5 over sorted slots whose local dates lie in [first_day, last_day]."""
    tz = rules.timezone
    limit = rules.max_per_day
    edges = []  # edges[i] is the first instant of first_day + i
    day = first_day
    while day <= last_day + _ONE_DAY:
        edges.append(epoch_micros(day_start(tz, day)))
        day += _ONE_DAY
    low, high = edges[0], edges[-1]
    starts = sorted(start for start, _end in busy if low <= start < high)
    full = [
        (day_low, day_high)
        for day_low, day_high in itertools.pairwise(edges)
        if bisect_left(starts, day_high) - bisect_left(starts, day_low) >= limit
    ]
    if not full:
        return slots
    return _cut(slots, full)


def _day_is_full(rules: Rules, busy: _Spans, day: date) -> bool:
    if rules.max_per_day is None:
        return False
    low = day_start(rules.timezone, day)
    high = day_start(rules.timezone, day + _ONE_DAY)
    count = sum(1 for start, _end in busy if low <= start < high)
    return count >= rules.max_per_day


def _sweep(rules: Rules, busy: _MicroSpans, candidates: list[int]) -> list[int]:
    """Rules 2 and 3 over sorted candidates in one pass.

    In candidate space, a booking (s, e) blocks exactly the starts c with
    s - reach_back < c < e + reach_ahead, where reach_back = duration + buffers and
    reach_ahead = buffers (the two half-open windows of rule 2 overlap). Walking the
    candidates in order, every booking whose lower edge is passed joins, and a candidate is
    blocked when the largest upper edge among the joined ones is beyond it.
    """
    if not candidates or not busy:
        return candidates
    buffers = _micros(rules.buffer_before + rules.buffer_after)
    reach_back = _micros(rules.duration) + buffers
    if rules.seats == 1:
        return _sweep_one_seat(busy, candidates, reach_back, buffers)
    return _sweep_seats(rules.seats, busy, candidates, reach_back, buffers)


def _sweep_one_seat(
    busy: _MicroSpans, candidates: list[int], reach_back: int, buffers: int
) -> list[int]:
    """With one seat, a booking at a candidate's start fills it (rule 3 is rule 2): only
    the furthest upper edge matters. The loop runs once per slot on the hot path, so it
    does no more than that."""
    # By start only (ints compare faster than tuples); Timsort is linear for bookings
    # already in order, as the selectors read them.
    spans = sorted(busy, key=itemgetter(0))
    lowers = [start - reach_back for start, _end in spans]
    # A booking blocks its own start even with no length and no buffers.
    uppers = [end + buffers if end + buffers > start else start + 1 for start, end in spans]
    count = len(spans)
    joined = 0  # bookings whose lower edge is behind the current candidate
    furthest = candidates[0]  # blocks nothing yet
    free = []
    for slot in candidates:
        while joined < count and lowers[joined] < slot:
            if uppers[joined] > furthest:
                furthest = uppers[joined]
            joined += 1
        if furthest <= slot:
            free.append(slot)
    return free


def _sweep_seats(
    seats: int, busy: _MicroSpans, candidates: list[int], reach_back: int, buffers: int
) -> list[int]:
    """Rule 3 with several seats. Bookings sharing a start are merged (the latest end
    wins) and counted for seats; a candidate is blocked when the largest upper edge among
    joined groups with ANOTHER start is beyond it. Keeping the top two upper edges (their
    starts differ) answers that in O(1)."""
    first, last = candidates[0], candidates[-1]
    latest_end: dict[int, int] = {}
    at_start: dict[int, int] = {}
    for start, end in busy:
        upper = end + buffers
        # Bookings that can neither block nor share a candidate's start are dropped before
        # sorting (a zero-length booking at a candidate still counts against its seats).
        if (upper <= first and start < first) or start - reach_back >= last:
            continue
        at_start[start] = at_start.get(start, 0) + 1
        known = latest_end.get(start)
        if known is None or upper > known:
            latest_end[start] = upper
    if not latest_end:
        return candidates
    starts = sorted(latest_end)
    # Parallel lists, by start: when a group joins (its lower edge), how far it blocks, and
    # how many seats it takes.
    lowers = [start - reach_back for start in starts]
    uppers = [latest_end[start] for start in starts]
    taken = [at_start[start] for start in starts]

    floor = first  # an upper edge that blocks no candidate
    top_upper, top_start, second_upper = floor, None, floor
    joined = 0  # groups whose lower edge is behind the current candidate
    exact = 0  # the first group whose start is not before the current candidate
    count = len(starts)
    free = []
    for slot in candidates:
        while joined < count and lowers[joined] < slot:
            upper = uppers[joined]
            if upper > top_upper:
                top_upper, top_start, second_upper = upper, starts[joined], top_upper
            elif upper > second_upper:
                second_upper = upper
            joined += 1
        while exact < count and starts[exact] < slot:
            exact += 1
        if exact < count and starts[exact] == slot:
            if taken[exact] >= seats:
                continue
            other_upper = second_upper if top_start == slot else top_upper
        else:
            other_upper = top_upper
        if other_upper > slot:
            continue
        free.append(slot)
    return free


def _cut(sorted_values: list[int], ranges: list[tuple[int, int]]) -> list[int]:
    """The values outside every half-open [low, high) range; ranges sorted by low, and they
    may overlap or be empty."""
    kept: list[int] = []
    done = 0  # values before this index are decided
    for low, high in ranges:
        cut = bisect_left(sorted_values, low, done)
        if cut > done:
            kept += sorted_values[done:cut]
        # Never behind `cut`, also for an empty or already covered range.
        done = bisect_left(sorted_values, high, cut)
    kept += sorted_values[done:]
    return kept


def _blocked(rules: Rules, busy: _Spans, slot: datetime) -> bool:
    """Rules 2 and 3 for one start, by a plain pass over the bookings."""
    buffers = rules.buffer_before + rules.buffer_after
    reach_back = rules.duration + buffers
    exact = 0
    for start, end in busy:
        if start == slot:
            exact += 1
        elif start - reach_back < slot < end + buffers:
            return True
    return exact >= rules.seats
