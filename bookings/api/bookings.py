"""Booking endpoints: the public booking of a calendar, and the staff list, detail and cancel.

`public_booking_response` is the whole public create flow (parse the body, call a booking
service, shape 201/400/409); the one-time link endpoint reuses it with its own service.
"""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import partial

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import Booking, BookingSource
from bookings.serializers import (
    BookingCancelSerializer,
    BookingFilterSerializer,
    BookingInputSerializer,
    BookingSerializer,
    BookingStatusSerializer,
    StaffBookingSerializer,
)
from bookings.services.attendance import AttendanceRefused, booking_attendance_mark
from bookings.services.bookings import SlotUnavailable, booking_cancel, booking_create
from calendars.selectors import calendar_get_public, zone
from config.public_api import PublicAPIView

SLOT_UNAVAILABLE_CODE = "slot_unavailable"

ErrorSerializer = inline_serializer(
    name="BookingConflict",
    fields={"detail": serializers.CharField(), "code": serializers.CharField()},
)
DetailSerializer = inline_serializer(name="Detail", fields={"detail": serializers.CharField()})


def booking_create_responses(*, not_found, more: dict | None = None) -> dict:
    """The schema answers of a public booking endpoint (a calendar's, a one-time link's),
    with its own 404 and any further codes, in status order."""
    return {
        201: BookingSerializer,
        400: OpenApiResponse(description="Field errors: {field: [messages]}"),
        404: not_found,
        409: OpenApiResponse(ErrorSerializer, description="The time is not free."),
        **(more or {}),
    }


def public_booking_response(*, request: Request, book: Callable[..., Booking]) -> Response:
    """Validate a public booking body and book it with `book(**fields)`.

    `book` receives start, name, email, phone, notes, timezone, consent. Answers 201 with the
    booking, 400 with field errors (from the body or the service's ValidationError, via the
    API's exception handler), 409 {"detail", "code": "slot_unavailable"} when the time is not
    free. Other BookingErrors propagate for the caller to answer.
    """
    serializer = BookingInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        booking = book(**serializer.service_kwargs())
    except SlotUnavailable as exc:
        return slot_unavailable_response(exc)
    return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)


def slot_unavailable_response(exc: SlotUnavailable) -> Response:
    return Response(
        {"detail": str(exc), "code": SLOT_UNAVAILABLE_CODE}, status=status.HTTP_409_CONFLICT
    )


class PublicBookingCreateApi(PublicAPIView):
    @extend_schema(
        operation_id="public_calendar_booking_create",
        summary="Book a free slot of a calendar",
        request=BookingInputSerializer,
        responses=booking_create_responses(
            not_found=DetailSerializer, more={429: DetailSerializer}
        ),
        tags=["public"],
    )
    def post(self, request: Request, slug: str) -> Response:
        calendar = calendar_get_public(slug=slug)
        return public_booking_response(
            request=request,
            book=partial(booking_create, calendar=calendar, source=BookingSource.API),
        )


def booking_list_for(*, user) -> QuerySet[Booking]:
    """The bookings a staff user may see: those of their calendars, all for a superuser."""
    return Booking.objects.visible_to(user).select_related("calendar")


def _filtered(qs: QuerySet[Booking], params: dict) -> QuerySet[Booking]:
    if "calendar" in params:
        qs = qs.filter(calendar_id=params["calendar"])
    if "status" in params:
        qs = qs.filter(status=params["status"])
    if "start_after" in params:
        qs = qs.filter(start__gte=params["start_after"])
    if "start_before" in params:
        qs = qs.filter(start__lt=params["start_before"])
    if "date" in params:
        tz = zone(params["timezone"])
        day_start = datetime.combine(params["date"], time(0), tzinfo=tz)
        day_end = datetime.combine(params["date"] + timedelta(days=1), time(0), tzinfo=tz)
        qs = qs.filter(start__gte=day_start, start__lt=day_end)
    return qs


class BookingPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class BookingListApi(ListAPIView):
    pagination_class = BookingPagination
    serializer_class = StaffBookingSerializer

    def get_queryset(self) -> QuerySet[Booking]:
        filters = BookingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        qs = _filtered(booking_list_for(user=self.request.user), filters.validated_data)
        return qs.order_by("start", "pk")

    @extend_schema(
        operation_id="booking_list",
        summary="Bookings of your calendars, oldest start first",
        parameters=[BookingFilterSerializer],
        tags=["bookings"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class BookingDetailApi(RetrieveAPIView):
    serializer_class = StaffBookingSerializer

    def get_queryset(self) -> QuerySet[Booking]:
        return booking_list_for(user=self.request.user)

    @extend_schema(
        operation_id="booking_retrieve",
        summary="One booking of your calendars",
        responses={200: StaffBookingSerializer, 404: DetailSerializer},
        tags=["bookings"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class BookingCancelApi(APIView):
    @extend_schema(
        operation_id="booking_cancel",
        summary="Cancel a booking (frees its slot; cancelling again changes nothing)",
        request=BookingCancelSerializer,
        responses={200: StaffBookingSerializer, 404: DetailSerializer},
        tags=["bookings"],
    )
    def post(self, request: Request, pk: int) -> Response:
        booking = get_object_or_404(booking_list_for(user=request.user), pk=pk)
        body = BookingCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        booking = booking_cancel(
            booking=booking, reason=body.validated_data["reason"], by=request.user
        )
        return Response(StaffBookingSerializer(booking).data)


class BookingStatusApi(APIView):
    @extend_schema(
        operation_id="booking_status",
        summary="Mark a booking showed or no-show (once it has started)",
        request=BookingStatusSerializer,
        responses={
            200: StaffBookingSerializer,
            400: OpenApiResponse(description="Field errors, or a booking that cannot be marked"),
            404: DetailSerializer,
        },
        tags=["bookings"],
    )
    def post(self, request: Request, pk: int) -> Response:
        booking = get_object_or_404(booking_list_for(user=request.user), pk=pk)
        body = BookingStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            booking = booking_attendance_mark(
                booking=booking, attendance=body.validated_data["status"]
            )
        except AttendanceRefused as exc:
            return Response({"status": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(StaffBookingSerializer(booking).data)


urlpatterns = [
    path(
        "api/public/calendars/<slug:slug>/bookings/",
        PublicBookingCreateApi.as_view(),
        name="api-public-booking-create",
    ),
    path("api/bookings/", BookingListApi.as_view(), name="api-booking-list"),
    path("api/bookings/<int:pk>/", BookingDetailApi.as_view(), name="api-booking-detail"),
    path("api/bookings/<int:pk>/cancel/", BookingCancelApi.as_view(), name="api-booking-cancel"),
    path("api/bookings/<int:pk>/status/", BookingStatusApi.as_view(), name="api-booking-status"),
]
