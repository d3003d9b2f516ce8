"""The staff API's calendar shape: the whole calendar with its hours nested (issue 2).

Times are the calendar's local wall-clock, "HH:MM". A date override is one item per date;
an empty `intervals` list closes the date (stored as one DateOverride row with no times).
"""

from typing import Any

from django.conf import settings
from django.db.models import Manager
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from calendars import validation
from calendars.models import Calendar, Connection
from calendars.selectors import calendar_embed_code

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


# OpenAPI's "format: time" is RFC 3339's full-time (09:00:00, with an offset), which the
# documented "09:00" is not: the schema gives the wall-clock form as a pattern instead.
@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        "example": "09:00",
        "description": "Local wall-clock time, HH:MM (HH:MM:SS is accepted).",
    }
)
class WallClockTimeField(serializers.TimeField):
    pass


def _time_field() -> serializers.TimeField:
    return WallClockTimeField(format="%H:%M", input_formats=TIME_FORMATS)


def _row_errors_to_items(errors: validation.RowErrors) -> dict[int, dict[str, list[str]]]:
    """Shape row errors like DRF's own nested-list errors: {index: {field: [messages]}}."""
    items: dict[int, dict[str, list[str]]] = {}
    for index, fields in sorted(errors.items()):
        for field, messages in fields.items():
            key = "non_field_errors" if field == "__all__" else field
            items.setdefault(index, {}).setdefault(key, []).extend(messages)
    return items


class WholeItemSerializer(serializers.Serializer):
    """An item of a nested list, validated whole even inside a PATCH.

    DRF skips every required field below the root of a partial update, so a PATCH with
    [{"date": "2027-03-15"}] came through without "intervals" (a KeyError: 500). An item
    replaces what was there, so a missing field is an error here, as in a POST or PUT.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        missing = {
            name: [field.error_messages["required"]]
            for name, field in self.fields.items()
            if field.required and not field.read_only and field.source not in value
        }
        if missing:
            raise serializers.ValidationError(missing)
        return value


class WeeklyHourSerializer(WholeItemSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 is Monday.")
    start = _time_field()
    end = _time_field()


class IntervalSerializer(WholeItemSerializer):
    start = _time_field()
    end = _time_field()


class DateOverrideListSerializer(serializers.ListSerializer):
    """Reads DateOverride rows (one per interval, or one with no times for a closed date)
    and gives one item per date."""

    def to_representation(self, data):
        rows = data.all() if isinstance(data, Manager) else data
        by_date: dict[Any, list[dict[str, str]]] = {}
        for row in rows:
            intervals = by_date.setdefault(row.date, [])
            if row.start is not None and row.end is not None:
                intervals.append({"start": f"{row.start:%H:%M}", "end": f"{row.end:%H:%M}"})
        return [
            {"date": day.isoformat(), "intervals": sorted(intervals, key=lambda i: i["start"])}
            for day, intervals in sorted(by_date.items())
        ]


class DateOverrideSerializer(WholeItemSerializer):
    date = serializers.DateField()
    intervals = IntervalSerializer(many=True, help_text="Empty closes the date.")

    class Meta:
        list_serializer_class = DateOverrideListSerializer


LinksSerializer = inline_serializer(
    name="CalendarLinks",
    fields={
        "scheduling": serializers.URLField(),
        "permanent": serializers.URLField(),
        "embed": serializers.CharField(help_text="An <iframe> snippet for a web page."),
        "feed": serializers.URLField(
            help_text="The private ICS feed of the calendar's confirmed bookings."
        ),
    },
)


class CalendarSerializer(serializers.ModelSerializer):
    weekly_hours = WeeklyHourSerializer(many=True, required=False)
    date_overrides = DateOverrideSerializer(many=True, required=False)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Calendar
        fields = [
            "id",
            "name",
            "slug",
            "timezone",
            "description",
            "duration_minutes",
            "slot_interval_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "min_notice_minutes",
            "booking_window_days",
            "seats_per_slot",
            "max_bookings_per_day",
            "is_active",
            "use_connected_calendars",
            "language",
            "weekly_hours",
            "date_overrides",
            "links",
        ]
        read_only_fields = ["id", "links"]

    @extend_schema_field(LinksSerializer)
    def get_links(self, calendar: Calendar) -> dict[str, str]:
        return {
            "scheduling": settings.SITE_URL + calendar.scheduling_path(),
            "permanent": settings.SITE_URL + calendar.permanent_path(),
            "embed": calendar_embed_code(calendar=calendar),
            "feed": settings.SITE_URL + calendar.feed_path(),
        }

    def validate_weekly_hours(self, value: list[dict]) -> list[dict]:
        rows = [(h["weekday"], h["start"], h["end"]) for h in value]
        errors = validation.weekly_hours_errors(rows)
        if errors:
            raise serializers.ValidationError(_row_errors_to_items(errors))
        return value

    def validate_date_overrides(self, value: list[dict]) -> list[dict]:
        items: dict[int, dict[str, Any]] = {}
        seen = set()
        for index, override in enumerate(value):
            if override["date"] in seen:
                items.setdefault(index, {})["date"] = [
                    "This date is listed twice: give it one item."
                ]
            seen.add(override["date"])
            rows = [(i["start"], i["end"]) for i in override["intervals"]]
            errors = validation.interval_errors(rows, allow_closed=False)
            if errors:
                items.setdefault(index, {})["intervals"] = _row_errors_to_items(errors)
        if items:
            raise serializers.ValidationError(items)
        return value

    def service_data(self) -> dict[str, Any]:
        """validated_data in the keyword shape of calendar_create / calendar_update."""
        data = dict(self.validated_data)
        if "weekly_hours" in data:
            data["weekly_hours"] = [
                (h["weekday"], h["start"], h["end"]) for h in data["weekly_hours"]
            ]
        if "date_overrides" in data:
            rows = []
            for override in data["date_overrides"]:
                if not override["intervals"]:
                    rows.append((override["date"], None, None))
                rows.extend((override["date"], i["start"], i["end"]) for i in override["intervals"])
            data["date_overrides"] = rows
        if not self.partial and data.get("slot_interval_minutes") is None:
            data["slot_interval_minutes"] = None  # omitted or null: the same as the duration
        return data


def _stored_url() -> serializers.CharField:
    # Decrypted for the owner (calendars.models.EncryptedUrlModel); "" rather than a failed
    # answer for a row no key opens any more, so such a connection can still be listed
    # (its status tells why) and removed.
    return serializers.CharField(source="url_or_blank", read_only=True)


class ConnectedCalendarSerializer(serializers.Serializer):
    url = _stored_url()
    name = serializers.CharField(read_only=True)
    busy = serializers.BooleanField(read_only=True)
    write = serializers.BooleanField(read_only=True)


class ConnectionSerializer(serializers.Serializer):
    """A connection as answered (the password is never part of it)."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    url = _stored_url()
    username = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Connection.Status.choices, read_only=True)
    error = serializers.CharField(read_only=True)
    last_synced_at = serializers.DateTimeField(read_only=True, allow_null=True)
    calendars = ConnectedCalendarSerializer(many=True, read_only=True)


class ConnectionCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Connection.Kind.choices)
    url = serializers.CharField(max_length=2000)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True)
    password = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Write-only: stored encrypted, never answered.",
    )


class ConnectedCalendarChoiceSerializer(WholeItemSerializer):
    url = serializers.CharField(max_length=2000)
    busy = serializers.BooleanField(required=False)
    write = serializers.BooleanField(required=False)


class ConnectionUpdateSerializer(serializers.Serializer):
    calendars = ConnectedCalendarChoiceSerializer(many=True)
