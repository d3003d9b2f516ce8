"""Public slots API: GET /api/public/calendars/<slug>/slots/?start=&end=&timezone=

No authentication, so no session or CSRF work on a benchmarked hot path. The query parsing
and the answer live in plain functions (`parse_slots_query`, `slots_response`) so the
one-time link endpoint answers exactly the same way for its own calendar.

The answer is written as JSON bytes here rather than by DRF's renderer, and the view skips
content negotiation: on a 31-day answer (1,300 slot strings) the generic encoder and the
framework's per-request work cost as much as reading the bookings. Errors (400, 404, 429)
still go through DRF's exception handling.
"""

import json
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from bookings.selectors import StaleCalendar, calendar_free_slot_micros
from calendars.availability import from_epoch_micros
from calendars.models import Calendar
from calendars.selectors import (
    calendar_forget_public,
    calendar_get_public_cached,
    timezone_is_known,
    zone,
)
from config.api import PublicRateThrottle

MAX_DAYS = 93
# Far enough to cover any real request, near enough that day arithmetic never overflows.
EARLIEST = date(1970, 1, 1)
LATEST = date(9998, 12, 31)


@dataclass(frozen=True, slots=True)
class SlotsQuery:
    first: date  # inclusive, in `timezone`
    last: date  # inclusive, in `timezone`
    timezone: str
    tz: ZoneInfo


def _parse_date(raw: str | None, errors: dict[str, list[str]], field: str) -> date | None:
    if raw is None or raw == "":
        errors[field] = ["This field is required (YYYY-MM-DD)."]
        return None
    try:
        # fromisoformat alone would also take "20270315" or week dates; ask for one form.
        if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
            raise ValueError
        value = date.fromisoformat(raw)
    except ValueError:
        errors[field] = [f"{raw!r} is not a date: use YYYY-MM-DD."]
        return None
    if not EARLIEST <= value <= LATEST:
        errors[field] = [f"Give a date between {EARLIEST} and {LATEST}."]
        return None
    return value


def parse_slots_query(query_params: Mapping[str, str], *, default_timezone: str) -> SlotsQuery:
    """Read start/end/timezone; serializers.ValidationError with a message per field."""
    errors: dict[str, list[str]] = {}
    first = _parse_date(query_params.get("start"), errors, "start")
    last = _parse_date(query_params.get("end"), errors, "end")
    tz_name = query_params.get("timezone") or default_timezone
    if not timezone_is_known(tz_name):
        errors["timezone"] = [f"{tz_name!r} is not a known IANA timezone (e.g. Europe/Berlin)."]
    if first is not None and last is not None:
        if last < first:
            errors["end"] = ["The end must not be before the start."]
        elif (last - first).days + 1 > MAX_DAYS:
            errors["end"] = [
                f"The range covers {(last - first).days + 1} days; at most {MAX_DAYS}."
            ]
    if errors:
        raise serializers.ValidationError(errors)
    return SlotsQuery(first=first, last=last, timezone=tz_name, tz=zone(tz_name))


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


_MINUTE = 60_000_000  # microseconds
_DAY = 24 * 60 * _MINUTE
# "HH:MM" for every minute of a day, built once.
_CLOCK = [f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(24 * 60)]


@lru_cache(maxsize=64)
def _offset_text(offset: timedelta) -> str:
    """A UTC offset exactly as datetime.isoformat writes it (+01:00, or +05:53:28)."""
    return datetime(2000, 1, 1, tzinfo=timezone(offset)).isoformat()[19:]


def _iso(start: int, tz: ZoneInfo) -> str:
    return from_epoch_micros(start).astimezone(tz).isoformat()


def iso_by_local_date(starts: list[int], tz: ZoneInfo) -> dict[str, list[str]]:
    """Sorted slot starts (epoch microseconds) as {local date: [ISO 8601 starts with UTC
    offset]} in `tz`, the text exactly as `datetime.isoformat` would write it.

    Built from integers, not datetimes: this runs once per slot on the hot path (1,300 a
    month of 15-minute slots). The zone is asked once per run of starts up to the local
    midnight that the run's first offset implies. When the run's last start has the same
    offset, every start between has it too: no zone changes its offset and back within a
    day (none does in the tz database; checked for every zone). Then each start is the
    run's date, a clock reading from a table and the offset. A run that holds an offset
    change, and a start that is not a whole minute, are written from a datetime.
    """
    by_day: dict[str, list[str]] = {}
    count = len(starts)
    index = 0
    while index < count:
        local = from_epoch_micros(starts[index]).astimezone(tz)
        offset = local.utcoffset()
        day = local.date().isoformat()
        # The instant the local clock reads 00:00 on this date with this offset.
        clock = (local.hour * 60 + local.minute) * _MINUTE
        midnight = starts[index] - clock - local.second * 1_000_000 - local.microsecond
        stop = bisect_left(starts, midnight + _DAY, index + 1)
        if from_epoch_micros(starts[stop - 1]).astimezone(tz).utcoffset() != offset:
            # The offset changes within the run, so may the date: each start on its own.
            for start in starts[index:stop]:
                iso = _iso(start, tz)
                by_day.setdefault(iso[:10], []).append(iso)
            index = stop
            continue
        texts = by_day.setdefault(day, [])
        prefix, suffix = f"{day}T", f":00{_offset_text(offset)}"
        for start in starts[index:stop]:
            minute, rest = divmod(start - midnight, _MINUTE)
            texts.append(f"{prefix}{_CLOCK[minute]}{suffix}" if not rest else _iso(start, tz))
        index = stop
    return by_day


def slots_payload(
    *,
    calendar: Calendar,
    query: SlotsQuery,
    label: str | None = None,
    now: datetime | None = None,
    check_version: bool = False,
) -> dict:
    """{"calendar", "timezone", "slots": {local date: [ISO starts]}}; empty dates left out."""
    tz = query.tz
    starts = calendar_free_slot_micros(
        calendar=calendar,
        range_start=_day_start(query.first, tz),
        range_end=_day_start(query.last + timedelta(days=1), tz),
        now=now,
        check_version=check_version,
    )
    return {
        "calendar": calendar.slug if label is None else label,
        "timezone": query.timezone,
        "slots": iso_by_local_date(starts, tz),
    }


def slots_json(payload: dict) -> bytes:
    """`slots_payload`'s answer as compact JSON.

    Dates and slot texts are ASCII digits and punctuation that JSON never escapes, so they
    are joined as they are; only the label and zone name (free text) go through json.dumps
    (ASCII escapes: safe to embed anywhere, the same text once decoded).
    """
    days = ",".join(
        f'"{day}":' + ('["' + '","'.join(texts) + '"]' if texts else "[]")
        for day, texts in payload["slots"].items()
    )
    calendar = json.dumps(payload["calendar"])
    timezone_name = json.dumps(payload["timezone"])
    text = f'{{"calendar":{calendar},"timezone":{timezone_name},"slots":{{{days}}}}}'
    return text.encode()


def slots_response(
    *,
    calendar: Calendar,
    query_params: Mapping[str, str],
    label: str | None = None,
    check_version: bool = False,
) -> HttpResponse:
    """The whole answer for a calendar's slots; raises ValidationError (400) on bad input.

    For the one-time link endpoint: `slots_response(calendar=link.calendar,
    query_params=request.query_params, label=...)` answers exactly like this one.
    """
    query = parse_slots_query(query_params, default_timezone=calendar.timezone)
    payload = slots_payload(
        calendar=calendar, query=query, label=label, check_version=check_version
    )
    return HttpResponse(slots_json(payload), content_type="application/json")


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The view's first renderer for every request, whatever its Accept header.

    The view answers JSON and nothing else; DRF's default negotiation (parsing Accept and
    matching it against each renderer) costs more than the rest of DRF on this path, and
    would only turn a client that does not accept JSON away with a 406.
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SlotsAnswerSerializer(serializers.Serializer):
    calendar = serializers.CharField()
    timezone = serializers.CharField()
    slots = serializers.DictField(
        child=serializers.ListField(child=serializers.DateTimeField()),
        help_text="Local date (YYYY-MM-DD) -> free slot starts with their UTC offset.",
    )


SLOTS_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First date."),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        required=True,
        description=f"Last date, inclusive; {MAX_DAYS} days at most.",
    ),
    OpenApiParameter(
        "timezone",
        OpenApiTypes.STR,
        required=False,
        description="IANA timezone for dates and offsets; the calendar's by default.",
    ),
]
SLOTS_RESPONSES = {
    200: SlotsAnswerSerializer,
    400: OpenApiResponse(description="A message per bad field: start, end, timezone."),
    404: OpenApiResponse(description="No active calendar here."),
}


class CalendarSlotsView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicRateThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        operation_id="calendar_slots",
        summary="Free slot starts of a public calendar",
        parameters=SLOTS_PARAMETERS,
        responses=SLOTS_RESPONSES,
        auth=[],
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        # The calendar and its rules come from memory; the bookings query confirms they are
        # current, and a changed calendar is read again once.
        calendar = calendar_get_public_cached(slug=slug)
        try:
            return slots_response(
                calendar=calendar, query_params=request.query_params, check_version=True
            )
        except StaleCalendar:
            calendar_forget_public(slug=slug)
        calendar = calendar_get_public_cached(slug=slug)
        return slots_response(calendar=calendar, query_params=request.query_params)


urlpatterns = [
    path(
        "api/public/calendars/<str:slug>/slots/",
        CalendarSlotsView.as_view(),
        name="api-calendar-slots",
    ),
]
