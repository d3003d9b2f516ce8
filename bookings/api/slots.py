"""Public slots API: GET /api/public/calendars/<slug>/slots/?start=&end=&timezone=

No authentication, so no session or CSRF work on a benchmarked hot path. The query parsing
and the answer live in plain functions (`parse_slots_query`, `slots_response`) so the
one-time link endpoint answers exactly the same way for its own calendar.

Answers are kept in Django's cache under the calendar's versions (bookings/answer_cache.py),
as JSON bytes, and a plain GET skips DRF's request handling (see CalendarSlotsView.dispatch).
Errors (400, 404, 429) still go through DRF's exception handling.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone as dj_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from bookings.answer_cache import KEY_FIELDS, cached_answer
from bookings.selectors import calendar_free_slot_micros
from calendars.availability import datetimes_from_epoch_micros
from calendars.models import Calendar
from calendars.selectors import calendar_get_public, timezone_is_known, zone
from config.api import PublicRateThrottle
from config.public_api import PublicAPIView

MAX_DAYS = 93
# Far enough to cover any real request, near enough that day arithmetic never overflows.
EARLIEST = date(1970, 1, 1)
LATEST = date(9998, 12, 31)


# Cuts a query's [start, end) range further (the one-time link's dates).
Clamp = Callable[[datetime, datetime], tuple[datetime, datetime]]


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


def free_starts(
    *,
    calendar: Calendar,
    query: SlotsQuery,
    now: datetime | None = None,
    clamp: Clamp | None = None,
) -> list[int]:
    """The free slot starts (epoch microseconds) on the query's dates in its timezone,
    inside what `clamp(start, end)` leaves of that range (a one-time link's dates)."""
    tz = query.tz
    range_start = _day_start(query.first, tz)
    range_end = _day_start(query.last + timedelta(days=1), tz)
    if clamp is not None:
        range_start, range_end = clamp(range_start, range_end)
        if range_start >= range_end:
            return []
    return calendar_free_slot_micros(
        calendar=calendar,
        range_start=range_start,
        range_end=range_end,
        now=now,
    )


def slots_json(*, label: str, timezone_name: str, starts: list[int], tz: ZoneInfo) -> bytes:
    """The answer, {"calendar", "timezone", "slots": {local date: [ISO starts]}}, as
    compact JSON; dates without a free slot are left out."""
    days: dict[str, list[str]] = {}
    for start in datetimes_from_epoch_micros(starts):
        text = start.astimezone(tz).isoformat()
        days.setdefault(text[:10], []).append(text)
    answer = {"calendar": label, "timezone": timezone_name, "slots": days}
    return json.dumps(answer, separators=(",", ":")).encode()


def slots_response(
    *,
    calendar: Calendar,
    query_params: Mapping[str, str],
    label: str | None = None,
    clamp: Clamp | None = None,
) -> HttpResponse:
    """The whole answer for a calendar's slots; raises ValidationError (400) on bad input.

    For the one-time link endpoint: `slots_response(calendar=link.calendar,
    query_params=request.query_params, label=...)` answers exactly like this one.
    """
    query = parse_slots_query(query_params, default_timezone=calendar.timezone)
    label = calendar.slug if label is None else label
    now = dj_timezone.now()

    def build(calendar: Calendar) -> bytes:
        starts = free_starts(calendar=calendar, query=query, now=now, clamp=clamp)
        return slots_json(label=label, timezone_name=query.timezone, starts=starts, tz=query.tz)

    if clamp is None:  # a one-time link's answer serves one invitee: not worth keeping
        parts = ("slots", label, query.first.isoformat(), query.last.isoformat(), query.timezone)
        body = cached_answer(calendar=calendar, now=now, parts=parts, build=build)
    else:
        body = build(calendar)
    return HttpResponse(body, content_type="application/json")


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The view's first renderer for every request, whatever its Accept header.

    The view answers JSON and nothing else, its free slots without asking DRF (see
    CalendarSlotsView.dispatch); its errors say the same to any client instead of turning
    one that does not list JSON away with a 406.
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


class CalendarSlotsView(PublicAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A GET that needs no throttle count is answered here, without DRF's request
        # wrapper and checks: the view authenticates no one and allows anyone. They cost
        # 0.05 ms, 7% of a cached answer (0.74 -> 0.69 ms CPU in one process), which keeps
        # the one-day row of make bench clear of its floor (about 0.36x -> 0.38x the
        # ceiling, floor 1/3). A rate to count, a bad query and an unknown calendar go
        # through DRF, which answers them in the API's shapes (429, 400, 404).
        if request.method == "GET" and PublicRateThrottle().rate is None:
            try:
                response = self.answer(request.GET, kwargs["slug"])
            except (serializers.ValidationError, Http404):
                pass
            else:
                for header, value in self.default_response_headers.items():
                    response[header] = value
                return response
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        operation_id="calendar_slots",
        summary="Free slot starts of a public calendar",
        parameters=SLOTS_PARAMETERS,
        responses=SLOTS_RESPONSES,
        auth=[],
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        return self.answer(request.query_params, slug)

    def answer(self, query_params: Mapping[str, str], slug: str) -> HttpResponse:
        # The answer is usually cached: read what its key and the query need, and leave
        # the rest of the row to a miss (a fifth of a cached answer's CPU, make bench).
        calendar = calendar_get_public(slug=slug, fields=(*KEY_FIELDS, "slug", "timezone"))
        return slots_response(calendar=calendar, query_params=query_params)


urlpatterns = [
    path(
        "api/public/calendars/<str:slug>/slots/",
        CalendarSlotsView.as_view(),
        name="api-calendar-slots",
    ),
]
