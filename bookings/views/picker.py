"""The month/day/time picker shared by every page that lets an invitee choose a time.

`build_picker` turns the page's query parameters (month=YYYY-MM, date=YYYY-MM-DD,
tz=Area/City, time=<ISO 8601>) into what the templates draw: a month grid where days with
free slots are links, the chosen day's free times as links, and prev/next month links. All of
it is plain GET links, so the page works without JavaScript; static/js/booking.js redraws the
same markup from the slots API when scripts run.

Cost matters (the booking page is benchmarked): free slots are computed once for the shown
month, grouped into days with a bisect per day (no per-slot timezone conversion), and only
the selected day's times are formatted. Bad parameters never fail: they fall back to defaults.
"""

import calendar as pycalendar
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property, lru_cache
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from bookings.forms import parse_start
from calendars.models import Calendar
from config import i18n
from config.timezones import iana_timezone_names

FreeSlots = Callable[..., list[datetime]]

# Canonical IANA areas; the legacy aliases (US/Eastern, Etc/GMT+5, ...) stay accepted in the
# URL but are not offered in the list.
_AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def timezone_names() -> frozenset[str]:
    return iana_timezone_names()


@cache
def _offered_timezones() -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_area: dict[str, list[str]] = {area: [] for area in _AREAS}
    for name in timezone_names():
        area, _, rest = name.partition("/")
        if area in by_area and rest:
            by_area[area].append(name)
    return tuple((area, tuple(sorted(names))) for area, names in by_area.items())


def timezone_label(name: str) -> str:
    return name.replace("_", " ")


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "\u2212"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


@lru_cache(maxsize=4)
def _zone_rows(
    minute: datetime, clock: int
) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    """(group, its label, ((zone, option text), ...)) for every offered zone, as of `minute`:
    "Berlin · UTC+01:00 · 14:05". Worked out once a minute (per clock), for every page."""

    def text(name: str) -> str:
        local = minute.astimezone(ZoneInfo(name))
        city = timezone_label(name.partition("/")[2] or name).replace("/", " / ")
        return f"{city} \u00b7 {_offset_text(local.utcoffset())} \u00b7 {format_time(local, clock)}"

    utc = f"UTC \u00b7 {format_time(minute, clock)}"
    rows = [("UTC", "UTC", (("UTC", utc),))]
    for area, names in _offered_timezones():
        rows.append((area, area, tuple((name, text(name)) for name in names)))
    return tuple(rows)


@lru_cache(maxsize=64)  # ~40 kB each; entries of past minutes fall out first
def timezone_options(selected: str, minute: datetime | None = None, clock: int = 24) -> SafeString:
    """The <option>s of the timezone <select>, grouped by region, each with its current UTC
    offset and local time, `selected` marked.

    Rendering ~420 options through the template engine would dominate the page's cost, so
    the markup is built once per selected zone (and minute) and cached.
    """
    minute = minute or datetime.now(UTC).replace(second=0, microsecond=0)
    parts = []
    offered = {name for _, names in _offered_timezones() for name in names} | {"UTC"}
    if selected not in offered:
        parts.append(format_html('<option value="{}" selected>{}</option>', selected, selected))
    for group, label, options in _zone_rows(minute, clock):
        markup = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (name, mark_safe(" selected") if name == selected else "", text)
                for name, text in options
            ),
        )
        if group == "UTC":
            parts.append(markup)
        else:
            parts.append(format_html('<optgroup label="{}">{}</optgroup>', label, markup))
    return mark_safe("".join(parts))  # noqa: S308 (every piece above is escaped)


def parse_tz(value: str | None) -> ZoneInfo | None:
    if value and value in timezone_names():
        return ZoneInfo(value)
    return None


def _parse_month(value: str | None) -> date | None:
    if not value or len(value) != 7:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return None


def _parse_date(value: str | None) -> date | None:
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def format_duration(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    if hours:
        return f"{hours} h"
    return f"{mins} min"


def format_time(moment: datetime, clock: int = 24) -> str:
    return i18n.format_time(moment, clock)


def format_day(day: date) -> str:
    return i18n.format_day(day)


def when_label(*, start: datetime, end: datetime, tz_name: str, clock: int = 24) -> str:
    tz = ZoneInfo(tz_name)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    label = f"{format_day(local_start.date())}, {format_time(local_start, clock)} \u2013 "
    if local_end.date() != local_start.date():
        label += f"{format_day(local_end.date())}, "
    return label + format_time(local_end, clock)


@dataclass(frozen=True, slots=True)
class DayCell:
    date: date
    in_month: bool
    free: int
    selected: bool
    url: str

    @property
    def label(self) -> str:
        count = (
            ngettext("%(count)d free time", "%(count)d free times", self.free)
            % {"count": self.free}
            if self.free
            else gettext("no times")
        )
        return f"{format_day(self.date)}, {count}"


@dataclass(frozen=True, slots=True)
class TimeChoice:
    start: datetime  # in the invitee's timezone
    iso: str  # start.isoformat(), with the UTC offset: what the form posts back
    label: str  # HH:MM, or h:MM AM on a 12-hour clock
    selected: bool


@dataclass
class Picker:
    """What the picker shows. `weeks` and `times` are drawn on first use."""

    tz: ZoneInfo
    tz_explicit: bool
    month: date
    today: date
    # Free slot count of each day of the month (index 0 is the 1st).
    free_counts: tuple[int, ...]
    selected_date: date | None
    # The selected day's free starts (UTC), ascending.
    day_slots: tuple[datetime, ...]
    selected_time: datetime | None  # in `tz`
    # A time was asked for (in the URL) that is not free: it was just taken.
    requested_time_unavailable: bool
    prev_url: str | None
    next_url: str | None
    window_end: datetime
    base_path: str
    day_url_prefix: str = ""
    extra_params: Mapping[str, str] = field(default_factory=dict)
    # Set when neither this month nor the next has a free time: the first day with one
    # later in the booking window (None: none at all), and whether that was looked for.
    next_open_day: date | None = None
    looked_ahead: bool = False
    clock: int = 24  # 12 or 24: how times read
    # The page's "now" to the minute: the timezone list shows each zone's local time.
    now_minute: datetime | None = None

    @cached_property
    def weeks(self) -> list[list[DayCell]]:
        month, counts, selected = self.month, self.free_counts, self.selected_date
        weeks = []
        for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
            row = []
            for day in week:
                in_month = day.month == month.month
                free = counts[day.day - 1] if in_month else 0
                url = f"{self.day_url_prefix}{day.isoformat()}" if free else ""
                row.append(DayCell(day, in_month, free, day == selected, url))
            weeks.append(row)
        return weeks

    @cached_property
    def times(self) -> list[TimeChoice]:
        tz, chosen = self.tz, self.selected_time
        choices = []
        for slot in self.day_slots:
            local = slot.astimezone(tz)
            iso = local.isoformat()
            choices.append(TimeChoice(local, iso, format_time(local, self.clock), slot == chosen))
        return choices

    @property
    def tz_name(self) -> str:
        return self.tz.key

    @property
    def tz_label(self) -> str:
        return timezone_label(self.tz.key)

    @property
    def selected_time_label(self) -> str:
        moment = self.selected_time
        if not moment:
            return ""
        return gettext("%(day)s at %(time)s") % {
            "day": format_day(moment.date()),
            "time": format_time(moment, self.clock),
        }

    @property
    def month_label(self) -> str:
        return i18n.format_month(self.month)

    @property
    def weekday_headers(self) -> list[tuple[str, str]]:
        """(short, full) weekday names, Monday first, for the month grid's header."""
        weekdays, _, short = i18n.names(i18n.current())
        return list(zip(short, weekdays, strict=True))

    @property
    def month_param(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def selected_date_iso(self) -> str:
        return self.selected_date.isoformat() if self.selected_date else ""

    @property
    def selected_date_label(self) -> str:
        return format_day(self.selected_date) if self.selected_date else ""

    @property
    def timezone_options(self) -> SafeString:
        return timezone_options(self.tz.key, self.now_minute, self.clock)

    @property
    def has_free_days(self) -> bool:
        return any(self.free_counts)

    @property
    def next_open_label(self) -> str:
        return format_day(self.next_open_day) if self.next_open_day else ""

    @property
    def next_open_url(self) -> str:
        day = self.next_open_day
        if day is None:
            return ""
        tz = self.tz.key if self.tz_explicit else None
        return self.url(tz=tz, month=f"{day:%Y-%m}", date=day.isoformat())

    def url(self, **params: str | None) -> str:
        query = {**self.extra_params, **{k: v for k, v in params.items() if v}}
        return f"{self.base_path}?{urlencode(query)}" if query else self.base_path


def build_picker(
    *,
    calendar: Calendar,
    params: Mapping[str, str],
    free_slots: FreeSlots,
    now: datetime,
    base_path: str,
    default_tz: str | None = None,
    extra_params: Mapping[str, str] | None = None,
    clock: int = 24,
) -> Picker:
    """Everything the picker templates need, from the request's query parameters.

    `free_slots(range_start=..., range_end=...)` returns sorted aware datetimes of free
    starts; it is called once (twice when the current month has nothing left and the page
    moves on to the next one by itself).
    """
    chosen_tz = parse_tz(params.get("tz"))
    tz = chosen_tz or parse_tz(default_tz) or ZoneInfo(calendar.timezone)
    today = now.astimezone(tz).date()
    window_end = now + timedelta(days=calendar.booking_window_days)
    first_month = today.replace(day=1)
    last_month = window_end.astimezone(tz).date().replace(day=1)

    requested_time = parse_start(params.get("time", ""))
    requested_date = _parse_date(params.get("date"))
    if requested_time is not None:
        requested_date = requested_time.astimezone(tz).date()
    month = _parse_month(params.get("month"))
    explicit_month = month is not None or requested_date is not None
    if month is None:
        month = requested_date.replace(day=1) if requested_date else first_month
    month = min(max(month, first_month), last_month)

    day_starts, slots = _month_slots(month, tz, free_slots)
    next_open_day = None
    looked_ahead = False
    if not slots and not explicit_month:
        # Late in the month nothing may be left: show the next month rather than an empty
        # one. When that is empty too (a calendar with no hours, a fully booked season), stay
        # on this month and say when the next free day is, rather than open an empty future.
        if month < last_month:
            next_starts, next_slots = _month_slots(_add_months(month, 1), tz, free_slots)
            if next_slots:
                month, day_starts, slots = _add_months(month, 1), next_starts, next_slots
            else:
                looked_ahead = True
                later = free_slots(range_start=next_starts[-1], range_end=window_end)
                next_open_day = later[0].astimezone(tz).date() if later else None
        else:
            looked_ahead = True

    # Index of the first slot of each day of the month (plus the end), found by bisect.
    bounds = [bisect_left(slots, start) for start in day_starts]
    free_counts = tuple(bounds[i + 1] - bounds[i] for i in range(len(day_starts) - 1))

    selected_date = None
    if requested_date is not None and (requested_date.year, requested_date.month) == (
        month.year,
        month.month,
    ):
        selected_date = requested_date
    if selected_date is None:
        first_free = next((i for i, count in enumerate(free_counts) if count), None)
        selected_date = month.replace(day=first_free + 1) if first_free is not None else None

    day_slots: tuple[datetime, ...] = ()
    if selected_date is not None:
        index = selected_date.day - 1
        day_slots = tuple(slots[bounds[index] : bounds[index + 1]])
    selected_time = None
    if requested_time is not None and requested_time in day_slots:
        selected_time = requested_time.astimezone(tz)

    # The zone goes into links only once chosen, so a page without `tz` can still adopt the
    # zone the browser reports.
    tz_param = tz.key if chosen_tz else None
    picker = Picker(
        tz=tz,
        tz_explicit=chosen_tz is not None,
        month=month,
        today=today,
        free_counts=free_counts,
        selected_date=selected_date,
        day_slots=day_slots,
        selected_time=selected_time,
        requested_time_unavailable=requested_time is not None and selected_time is None,
        prev_url=None,
        next_url=None,
        # To the minute: the script only needs the month it falls in, and a value that
        # changes every request would defeat the rendered-page reuse in pages.py.
        window_end=window_end.replace(second=0, microsecond=0),
        base_path=base_path,
        extra_params=extra_params or {},
        next_open_day=next_open_day,
        looked_ahead=looked_ahead,
        clock=clock,
        now_minute=now.astimezone(UTC).replace(second=0, microsecond=0),
    )
    # Every day link differs only in its date: encode the rest once (date comes last).
    picker.day_url_prefix = picker.url(tz=tz_param, month=picker.month_param, date="_")[:-1]

    if month > first_month:
        picker.prev_url = picker.url(tz=tz_param, month=f"{_add_months(month, -1):%Y-%m}")
    if month < last_month:
        picker.next_url = picker.url(tz=tz_param, month=f"{_add_months(month, 1):%Y-%m}")
    return picker


def _month_slots(
    month: date, tz: ZoneInfo, free_slots: FreeSlots
) -> tuple[list[datetime], list[datetime]]:
    days = pycalendar.monthrange(month.year, month.month)[1]
    day_starts = [local_midnight(month.replace(day=d), tz) for d in range(1, days + 1)]
    day_starts.append(local_midnight(_add_months(month, 1), tz))
    slots = free_slots(range_start=day_starts[0], range_end=day_starts[-1])
    return day_starts, list(slots)
