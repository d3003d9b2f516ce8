"""Checks on working intervals, shared by the admin inlines, the API and the services.

Pure functions: rows in, field-level messages out, so every interface reports the same
mistakes in the same words and the rules are tested without a database.
"""

from collections import defaultdict
from collections.abc import Hashable, Sequence
from datetime import time

END_AFTER_START = "The end must be after the start."
BOTH_OR_NEITHER = "Give both a start and an end, or leave both empty to close the date."
REQUIRED = "This field is required."
CLOSED_WITH_HOURS = "A closed date cannot also have hours: remove the hours or the closed row."
DUPLICATE_CLOSED = "This date is already marked closed."

# index in the given rows -> field name ("start", "end", or "__all__") -> messages
RowErrors = dict[int, dict[str, list[str]]]


def _fmt(t: time) -> str:
    return t.strftime("%H:%M")


def _add(errors: RowErrors, index: int, field: str, message: str) -> None:
    errors.setdefault(index, {}).setdefault(field, []).append(message)


def interval_errors(
    intervals: Sequence[tuple[time | None, time | None]], *, allow_closed: bool
) -> RowErrors:
    """Problems within ONE group of intervals (one weekday, or one override date).

    - both times are needed, unless `allow_closed` and both are empty (a closed date);
    - the end is after the start;
    - no two intervals overlap (touching, 12:00-13:00 then 13:00-14:00, is fine);
    - a closed row is the only row of its group.
    """
    errors: RowErrors = {}
    valid: list[tuple[time, time, int]] = []
    closed: list[int] = []
    for index, (start, end) in enumerate(intervals):
        if start is None and end is None:
            if allow_closed:
                closed.append(index)
            else:
                _add(errors, index, "start", REQUIRED)
                _add(errors, index, "end", REQUIRED)
        elif start is None or end is None:
            message = BOTH_OR_NEITHER if allow_closed else REQUIRED
            _add(errors, index, "start" if start is None else "end", message)
        elif end <= start:
            _add(errors, index, "end", END_AFTER_START)
        else:
            valid.append((start, end, index))

    if closed and (valid or len(closed) < len(intervals)):
        for index in closed:
            _add(errors, index, "__all__", CLOSED_WITH_HOURS)
    for index in closed[1:]:
        _add(errors, index, "__all__", DUPLICATE_CLOSED)

    valid.sort()
    # Compare each interval with the one reaching furthest so far, so 09-17 flags both
    # 10-11 and 12-13, not only its immediate neighbour.
    reach: tuple[time, time] | None = None
    for start, end, index in valid:
        if reach is not None and start < reach[1]:
            _add(
                errors,
                index,
                "start",
                f"{_fmt(start)}-{_fmt(end)} overlaps {_fmt(reach[0])}-{_fmt(reach[1])}.",
            )
        if reach is None or end > reach[1]:
            reach = (start, end)
    return errors


def grouped_interval_errors(
    rows: Sequence[tuple[Hashable, time | None, time | None]], *, allow_closed: bool
) -> RowErrors:
    """`interval_errors` over rows grouped by their first item (a weekday or a date).

    The returned indexes are positions in `rows`, so a caller maps them back onto its own
    forms or list items.
    """
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, (key, _start, _end) in enumerate(rows):
        if key is not None:
            groups[key].append(index)
    errors: RowErrors = {}
    for indexes in groups.values():
        group = [(rows[i][1], rows[i][2]) for i in indexes]
        for local, fields in interval_errors(group, allow_closed=allow_closed).items():
            errors[indexes[local]] = fields
    return errors


def weekly_hours_errors(rows: Sequence[tuple[int, time | None, time | None]]) -> RowErrors:
    """Rows are (weekday, start, end); a weekday may hold several intervals."""
    return grouped_interval_errors(rows, allow_closed=False)


def date_override_errors(rows: Sequence[tuple[object, time | None, time | None]]) -> RowErrors:
    """Rows are (date, start, end); a row with no times closes its date."""
    return grouped_interval_errors(rows, allow_closed=True)


def flat_messages(errors: RowErrors, labels: Sequence[str]) -> list[str]:
    """One readable line per problem, naming the row (for services' ValidationError)."""
    lines = []
    for index in sorted(errors):
        for field, messages in errors[index].items():
            where = labels[index] if field == "__all__" else f"{labels[index]} ({field})"
            lines.extend(f"{where}: {message}" for message in messages)
    return lines
