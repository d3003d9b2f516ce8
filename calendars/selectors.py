"""Calendar reads: the public lookup, the prefetching queryset, and the engine's rules."""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404
from django.templatetags.static import static
from django.utils import timezone as dj_timezone
from django.utils.html import format_html

from calendars import availability
from calendars.models import (
    BusyInterval,
    Calendar,
    Connection,
    DateOverride,
    WeeklyInterval,
    validate_timezone,
)
from config.text import plain


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A ZoneInfo by name, cached (the hot slots path asks for the same few zones)."""
    return ZoneInfo(name)


def calendar_embed_code(*, calendar: Calendar) -> str:
    """The HTML a site owner pastes to embed the booking page (the API's `links.embed` and
    the Share panel): the iframe (it scrolls inside by itself) and the script that grows it
    to its content (static/js/embed.js). The calendar's name is escaped for the attribute."""
    return plain(
        format_html(
            '<iframe src="{}" title="{}" style="width:100%;min-height:640px;border:0" '
            'loading="lazy"></iframe>\n<script src="{}" async></script>',
            settings.SITE_URL + calendar.embed_path(),
            f"Book: {calendar.name}",
            settings.SITE_URL + static("js/embed.js"),
        )
    )


def timezone_is_known(name: str) -> bool:
    """True for an IANA name the server knows; False for junk, paths, "localtime"."""
    try:
        validate_timezone(name)
    except Exception:
        return False
    return True


def calendar_queryset_with_hours() -> QuerySet[Calendar]:
    """Calendars with weekly hours and date overrides prefetched (two extra queries in all)."""
    return Calendar.objects.prefetch_related("weekly_hours", "date_overrides")


def calendar_list_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Calendar]:
    """The calendars a staff user may see and edit: their own, or every one for a superuser."""
    return calendar_queryset_with_hours().visible_to(user)


def calendar_get_public(*, slug: str, fields: Sequence[str] = ()) -> Calendar:
    """The active calendar behind a scheduling link; Http404 when unknown or inactive.

    `fields`: read just these (QuerySet.only); any other is read when first used."""
    calendars = Calendar.objects.only(*fields) if fields else Calendar.objects.all()
    try:
        return calendars.get(slug=slug, is_active=True)
    except Calendar.DoesNotExist:
        raise Http404("No such calendar.") from None


def _prefetched(calendar: Calendar, name: str) -> list | None:
    cache = getattr(calendar, "_prefetched_objects_cache", None) or {}
    return cache.get(name)


def calendar_weekly_rows(*, calendar: Calendar) -> list[tuple[int, time, time]]:
    rows = _prefetched(calendar, "weekly_hours")
    if rows is not None:
        return [(r.weekday, r.start, r.end) for r in rows]
    return list(
        WeeklyInterval.objects.filter(calendar=calendar).values_list("weekday", "start", "end")
    )


def calendar_override_rows(
    *, calendar: Calendar, first: date | None = None, last: date | None = None
) -> list[tuple[date, time | None, time | None]]:
    """Override rows, optionally only for dates first..last (inclusive)."""
    rows = _prefetched(calendar, "date_overrides")
    if rows is not None:
        return [
            (r.date, r.start, r.end)
            for r in rows
            if (first is None or r.date >= first) and (last is None or r.date <= last)
        ]
    qs = DateOverride.objects.filter(calendar=calendar)
    if first is not None:
        qs = qs.filter(date__gte=first)
    if last is not None:
        qs = qs.filter(date__lte=last)
    return list(qs.values_list("date", "start", "end"))


def rules_from_rows(
    *,
    calendar: Calendar,
    weekly_rows: list[tuple[int, time, time]],
    override_rows: list[tuple[date, time | None, time | None]],
) -> availability.Rules:
    weekly: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, start, end in weekly_rows:
        weekly[weekday].append((start, end))
    overrides: dict[date, list[tuple[time, time]]] = {}
    for day, start, end in override_rows:
        intervals = overrides.setdefault(day, [])
        # A row with no times marks the date closed: the date is present with no intervals.
        if start is not None and end is not None:
            intervals.append((start, end))
    for intervals in (*weekly.values(), *overrides.values()):
        intervals.sort()
    return availability.Rules(
        timezone=zone(calendar.timezone),
        duration=timedelta(minutes=calendar.duration_minutes),
        interval=timedelta(minutes=calendar.effective_slot_interval_minutes),
        buffer_before=timedelta(minutes=calendar.buffer_before_minutes),
        buffer_after=timedelta(minutes=calendar.buffer_after_minutes),
        min_notice=timedelta(minutes=calendar.min_notice_minutes),
        window_days=calendar.booking_window_days,
        seats=calendar.seats_per_slot,
        max_per_day=calendar.max_bookings_per_day,
        weekly=dict(weekly),
        overrides=overrides,
    )


def calendar_rules(
    *, calendar: Calendar, first: date | None = None, last: date | None = None
) -> availability.Rules:
    """The engine's rules for a calendar.

    Uses prefetched weekly_hours/date_overrides when present (no query), else reads them with
    values_list (two queries). `first`/`last` limit the overrides to the dates that matter.
    """
    return rules_from_rows(
        calendar=calendar,
        weekly_rows=calendar_weekly_rows(calendar=calendar),
        override_rows=calendar_override_rows(calendar=calendar, first=first, last=last),
    )


# The rules of a calendar, in Django's cache under its rules_version: the version changes
# on every write of the calendar or its hours (Calendar.save, calendars/signals.py), so a
# changed calendar is never served old rules. Saves the two queries of weekly hours and
# overrides on every slots request, page and booking (make bench, slots API: 4 queries a
# request cold, 2 warm).
_RULES_TIMEOUT = 3600


def calendar_rules_cached(*, calendar: Calendar, now=None) -> availability.Rules:
    """calendar_rules for the calendar as read (its rules_version), cached.

    Overrides from two days before today on: earlier dates can hold no bookable slot.
    """
    key = f"calendar-rules:{calendar.pk}:{calendar.rules_version}"
    rules = cache.get(key)
    if rules is None:
        today = (now or dj_timezone.now()).astimezone(zone(calendar.timezone)).date()
        rules = calendar_rules(calendar=calendar, first=today - timedelta(days=2))
        cache.set(key, rules, _RULES_TIMEOUT)
    return rules


# -- connected calendars ---------------------------------------------------------------------

# All-day rows are stored as dates at 00:00 UTC and read as the calendar's own local dates.
# In Django's cache under (calendar id, rules_version), like the rules: the sync bumps the
# version of the owner's calendars in the transaction that changes their busy rows
# (calendars/connections.py), so a warm slots read makes no query for them.


def _external_spans(calendar: Calendar) -> tuple[list[int], list[tuple[int, int]], int]:
    """(starts, spans sorted by start, longest span) of the owner's stored busy time."""
    key = f"calendar-external:{calendar.pk}:{calendar.rules_version}"
    entry = cache.get(key)
    if entry is None:
        micros = availability.epoch_micros
        tz = zone(calendar.timezone)
        spans = []
        rows = BusyInterval.objects.filter(owner_id=calendar.owner_id).values_list(
            "start", "end", "all_day"
        )
        for start, end, all_day in rows:
            if all_day:  # blocks its whole dates in this calendar's timezone
                start = availability.day_start(tz, start.date())
                end = availability.day_start(tz, end.date())
            spans.append((micros(start), micros(end)))
        spans.sort()
        longest = max((e - s for s, e in spans), default=0)
        entry = ([s for s, _e in spans], spans, longest)
        cache.set(key, entry, _RULES_TIMEOUT)
    return entry


def connected_busy_micros(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[tuple[int, int]]:
    """The owner's external busy time that can affect free slots starting in
    [range_start, range_end), as (start, end) epoch microseconds (the engine's `external`).

    Widened by the duration and both buffers, like the bookings (rule 2); an all-day event
    blocks its whole date in this calendar's timezone. Empty when the calendar ignores
    connected calendars. Read from the database once per rules_version (no query when
    warm); never talks to an external server.
    """
    if not calendar.use_connected_calendars:
        return []
    starts, spans, longest = _external_spans(calendar)
    if not spans:
        return []
    reach = timedelta(
        minutes=calendar.duration_minutes
        + calendar.buffer_before_minutes
        + calendar.buffer_after_minutes
    )
    low = availability.epoch_micros(range_start - reach)
    high = availability.epoch_micros(range_end + reach)
    first = bisect_left(starts, low - longest)
    last = bisect_left(starts, high)
    return [(s, e) for s, e in spans[first:last] if e > low]


def connected_busy(
    *, calendar: Calendar, range_start: datetime, range_end: datetime
) -> list[availability.Busy]:
    """connected_busy_micros as availability.Busy with `external=True` (for is_free)."""
    moment = availability.from_epoch_micros
    return [
        availability.Busy(moment(s), moment(e), external=True)
        for s, e in connected_busy_micros(
            calendar=calendar, range_start=range_start, range_end=range_end
        )
    ]


def connection_list_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Connection]:
    """The connections a staff user manages: their own, or every one for a superuser."""
    return (
        Connection.objects.prefetch_related("calendars")
        .order_by("created_at", "pk")
        .visible_to(user)
    )
