"""Builders shared by the availability engine tests (tests/calendars/test_availability*.py)."""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendars.availability import Busy, Rules

EVERY_DAY = range(7)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hm(text: str) -> time:
    hours, mins = text.split(":")
    return time(int(hours), int(mins))


def make_rules(
    *,
    tz: str = "UTC",
    duration: int = 30,
    interval: int | None = None,
    hours: Sequence[tuple[str, str]] = (("09:00", "17:00"),),
    weekdays: Sequence[int] = EVERY_DAY,
    overrides: Mapping[date, Sequence[tuple[str, str]]] | None = None,
    buffer_before: int = 0,
    buffer_after: int = 0,
    min_notice: int = 0,
    window_days: int = 60,
    seats: int = 1,
    max_per_day: int | None = None,
) -> Rules:
    """Rules in whole minutes, with the same hours on every listed weekday."""
    walls = [(hm(start), hm(end)) for start, end in hours]
    return Rules(
        timezone=ZoneInfo(tz),
        duration=minutes(duration),
        interval=minutes(interval if interval is not None else duration),
        buffer_before=minutes(buffer_before),
        buffer_after=minutes(buffer_after),
        min_notice=minutes(min_notice),
        window_days=window_days,
        seats=seats,
        max_per_day=max_per_day,
        weekly={weekday: list(walls) for weekday in weekdays},
        overrides={
            day: [(hm(start), hm(end)) for start, end in intervals]
            for day, intervals in (overrides or {}).items()
        },
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold)


def booking(start: datetime, length_minutes: int = 30) -> Busy:
    return Busy(start=start, end=start + minutes(length_minutes))


def wall_times(slots: Sequence[datetime], tz: str) -> list[str]:
    """Slots as local "HH:MM" strings: readable expectations for one day."""
    zone = ZoneInfo(tz)
    return [slot.astimezone(zone).strftime("%H:%M") for slot in slots]


def local_day_range(tz: str, day: date) -> tuple[datetime, datetime]:
    """[first instant of the local date, first instant of the next one)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end
