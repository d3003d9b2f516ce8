"""Booking input and output for the API. Shapes only: the rules live in the services.

`BookingInputSerializer` is the body of every public booking endpoint (a calendar's, a
one-time link's): validated, `service_kwargs()` gives the keyword arguments shared by
`booking_create` and `one_time_link_book`.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.ics import booking_links
from bookings.models import Booking
from calendars.models import validate_timezone
from config.text import validate_single_line


@extend_schema_field(OpenApiTypes.DATETIME)
class OffsetDateTimeField(serializers.Field):
    """An ISO 8601 instant that must carry its UTC offset.

    DRF's DateTimeField would read a naive value in the server's timezone; for a booking that
    silently moves the meeting, so a value without an offset is refused instead.
    """

    default_error_messages = {
        "invalid": "Give an ISO 8601 date and time, e.g. 2027-03-15T09:00:00+01:00.",
        "naive": "Include the UTC offset, e.g. 2027-03-15T09:00:00+01:00 or ...Z.",
    }

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            value = datetime.fromisoformat(data.strip())
        except ValueError:
            self.fail("invalid")
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail("naive")
        try:
            # UTC from here on: PostgreSQL refuses offsets past +-15:59 that Python accepts,
            # and the ends of time overflow on conversion; both are bad input, not a 500.
            return value.astimezone(UTC)
        except OverflowError:
            self.fail("invalid")

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


def _validate_timezone(value: str) -> str:
    try:
        validate_timezone(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from exc
    return value


class BookingInputSerializer(serializers.Serializer):
    start = OffsetDateTimeField(help_text="A free slot start, ISO 8601 with its UTC offset.")
    name = serializers.CharField(max_length=200, validators=[validate_single_line])
    email = serializers.EmailField(max_length=254, validators=[validate_single_line])
    phone = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_single_line],
    )
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(
        max_length=64,
        validators=[_validate_timezone],
        help_text="The invitee's IANA timezone, e.g. Europe/Berlin.",
    )
    consent = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Required (true) when the calendar asks for consent.",
    )

    def service_kwargs(self) -> dict:
        data = self.validated_data
        return {
            "start": data["start"],
            "name": data["name"],
            "email": data["email"],
            "phone": data["phone"],
            "notes": data["notes"],
            "timezone": data["timezone"],
            "consent": data["consent"],
        }


class BookingSerializer(serializers.ModelSerializer):
    """A booking as its invitee sees it; the three URLs are its secret management links."""

    calendar = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    name = serializers.CharField(source="invitee_name", read_only=True)
    email = serializers.EmailField(source="invitee_email", read_only=True)
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    cancel_url = serializers.SerializerMethodField()
    reschedule_url = serializers.SerializerMethodField()
    ics_url = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "calendar",
            "start",
            "end",
            "status",
            "timezone",
            "name",
            "email",
            "cancel_url",
            "reschedule_url",
            "ics_url",
        ]
        read_only_fields = fields

    # Times come back in the invitee's timezone (the same offset they booked with); the
    # instant is the same whatever the offset.
    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_start(self, booking: Booking) -> str:
        return booking.start.astimezone(ZoneInfo(booking.timezone)).isoformat()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_end(self, booking: Booking) -> str:
        return booking.end.astimezone(ZoneInfo(booking.timezone)).isoformat()

    @extend_schema_field(OpenApiTypes.URI)
    def get_cancel_url(self, booking: Booking) -> str:
        return booking_links(booking=booking)["cancel"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_reschedule_url(self, booking: Booking) -> str:
        return booking_links(booking=booking)["reschedule"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_ics_url(self, booking: Booking) -> str:
        return booking_links(booking=booking)["ics"]


class StaffBookingSerializer(BookingSerializer):
    """What staff see of a booking of their calendar: everything the invitee gave, and how."""

    calendar_id = serializers.IntegerField(read_only=True)
    phone = serializers.CharField(source="invitee_phone", read_only=True)
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta(BookingSerializer.Meta):
        fields = [
            *BookingSerializer.Meta.fields,
            "calendar_id",
            "seat",
            "phone",
            "notes",
            "source",
            "contact_id",
            "created_at",
            "cancelled_at",
            "cancel_reason",
            "attendance",
            "attendance_marked_at",
        ]
        read_only_fields = fields


class BookingCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BookingStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Booking.Attendance.choices, help_text="Whether the invitee came."
    )


class BookingFilterSerializer(serializers.Serializer):
    """Query parameters of the staff list. `date` is a day in `timezone` (default UTC)."""

    calendar = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Booking.Status.choices, required=False)
    start_after = OffsetDateTimeField(required=False, help_text="Bookings starting at or after.")
    start_before = OffsetDateTimeField(required=False, help_text="Bookings starting before.")
    date = serializers.DateField(required=False, help_text="YYYY-MM-DD, in `timezone`.")
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", validators=[_validate_timezone]
    )

    def validate_date(self, value: date) -> date:
        # The filter spans the day and its neighbours in `timezone`: keep clear of year 1/9999.
        if not date(2, 1, 1) <= value <= date(9998, 12, 31):
            raise serializers.ValidationError("Give a date between 0002-01-01 and 9998-12-31.")
        return value

    def validate(self, attrs: dict) -> dict:
        after, before = attrs.get("start_after"), attrs.get("start_before")
        if after is not None and before is not None and before <= after:
            raise serializers.ValidationError({"start_before": "Must be after start_after."})
        return attrs
