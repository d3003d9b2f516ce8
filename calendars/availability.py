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

    def free_slots(rules: Rules, busy: Sequence[Busy], *, now: datetime,
                   range_start: datetime, range_end: datetime) -> list[datetime]
        # aware UTC datetimes of free slot starts with range_start <= start < range_end,
        # sorted ascending.

    def is_free(rules, busy, *, now, start: datetime) -> bool
        # whether `start` is one of the free slot starts.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Intervals = Sequence[tuple[time, time]]


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


def free_slots(
    rules: Rules,
    busy: Sequence[Busy],
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
) -> list[datetime]:
    raise NotImplementedError


def is_free(rules: Rules, busy: Sequence[Busy], *, now: datetime, start: datetime) -> bool:
    raise NotImplementedError
