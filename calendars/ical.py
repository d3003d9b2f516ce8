"""iCalendar text to busy intervals: a pure function of the events and a span.

Blocks: events not TRANSP:TRANSPARENT and not STATUS:CANCELLED. Recurring events are
expanded (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) by `recurring-ical-events`; Google's
X-WR-TIMEZONE is applied by `x-wr-timezone` first. An all-day event is returned as dates
(`all_day=True`, times at 00:00 UTC) so that each Onceslot calendar reads it in its own
timezone. Events whose UID ends with `skip_uid_suffix` are Onceslot's own bookings.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar
import recurring_ical_events
import x_wr_timezone


class CalendarParseError(ValueError):
    """The text is not an iCalendar file."""


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime
    all_day: bool = False


def parse_calendars(texts: Iterable[str | bytes]) -> icalendar.Calendar:
    """One VCALENDAR holding the events and timezones of every text (one per CalDAV object,
    or one ICS file), so that overrides of one UID meet their series when expanded."""
    merged = icalendar.Calendar()
    merged.add("prodid", "-//Onceslot//sync//EN")
    merged.add("version", "2.0")
    zones: set[str] = set()
    for text in texts:
        try:
            parsed = icalendar.Calendar.from_ical(text)
        except (ValueError, IndexError, KeyError) as exc:
            raise CalendarParseError("The calendar data is not valid iCalendar.") from exc
        if parsed.name != "VCALENDAR":
            raise CalendarParseError("The calendar data is not a VCALENDAR.")
        try:
            parsed = x_wr_timezone.to_standard(parsed)
        except Exception as exc:  # an unknown X-WR-TIMEZONE name
            raise CalendarParseError("The calendar names a timezone that is not known.") from exc
        for component in parsed.subcomponents:
            if component.name == "VTIMEZONE":
                tzid = str(component.get("TZID", ""))
                if tzid in zones:
                    continue
                zones.add(tzid)
            if component.name in ("VTIMEZONE", "VEVENT"):
                merged.add_component(component)
    return merged


def _as_utc(value: datetime | date, *, default_tz) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:  # a floating time: read in the owner's default zone
        value = value.replace(tzinfo=default_tz)
    return value.astimezone(UTC)


def busy_intervals(
    calendar: icalendar.Calendar,
    *,
    start: datetime,
    end: datetime,
    default_tz=UTC,
    skip_uid_suffix: str = "",
) -> list[Interval]:
    """The busy intervals of the calendar's events that overlap [start, end)."""
    try:
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end)
    except Exception as exc:  # a malformed RRULE or date the library cannot expand
        raise CalendarParseError("The calendar holds an event that cannot be read.") from exc
    found: set[Interval] = set()
    for event in occurrences:
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if skip_uid_suffix and str(event.get("UID", "")).endswith(skip_uid_suffix):
            continue
        dtstart = event.get("DTSTART")
        if dtstart is None:
            continue
        first = dtstart.dt
        all_day = not isinstance(first, datetime)
        if "DTEND" in event:
            last = event["DTEND"].dt
        elif "DURATION" in event:
            last = first + event["DURATION"].dt
        else:
            last = first + timedelta(days=1) if all_day else first
        if all_day and isinstance(last, datetime):
            last = last.date()
        interval_start = _as_utc(first, default_tz=default_tz)
        interval_end = _as_utc(last, default_tz=default_tz)
        if interval_end <= interval_start:
            continue  # a zero-length event marks a moment, it blocks no time
        found.add(Interval(interval_start, interval_end, all_day))
    return sorted(found, key=lambda i: (i.start, i.end))
