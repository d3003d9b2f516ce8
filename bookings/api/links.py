"""One-time link API: staff generate, list and revoke; the public reads and books through one.

Staff endpoints (token or session, staff only): a calendar's links are visible to its owner
and to superusers; for anyone else the calendar or link does not exist (404, not 403, so ids
do not leak). Public endpoints need no authentication: the token in the path is the
credential. A malformed, unknown or forged token is 404; a used, expired or revoked link
is 410 for the endpoints that would use it; a spent link takes a renewal request (202).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.api.bookings import booking_create_responses, slot_unavailable_response
from bookings.api.slots import SLOTS_PARAMETERS, SlotsAnswerSerializer, slots_response
from bookings.models import OneTimeLink
from bookings.serializers import BookingInputSerializer, BookingSerializer
from bookings.services.bookings import SlotUnavailable
from bookings.services.link_renewals import (
    MESSAGE_MAX_LENGTH,
    RENEWAL_ANSWER,
    LinkStillActive,
    RenewalLimited,
    one_time_link_renewal_request,
)
from bookings.services.one_time_links import (
    LINK_BOOKING_RELATED,
    LinkNotFound,
    LinkUnavailable,
    one_time_link_book,
    one_time_link_clamp,
    one_time_link_generate,
    one_time_link_get_by_token,
    one_time_link_is_usable,
    one_time_link_owner,
    one_time_link_prefill,
    one_time_link_public_state,
    one_time_link_record_open,
    one_time_link_revoke,
    one_time_link_url,
    one_time_links_in_state,
)
from bookings.views.manage import secret
from calendars.models import Calendar
from config.api import PublicRateThrottle
from config.public_api import PublicAPIView
from config.text import validate_single_line
from contacts.models import Contact

LINK_UNAVAILABLE_CODE = "link_unavailable"


class OneTimeLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    token = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    calendar = serializers.PrimaryKeyRelatedField(read_only=True)
    contact = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = OneTimeLink
        fields = [
            "id",
            "url",
            "token",
            "state",
            "calendar",
            "contact",
            "expires_at",
            "created_at",
            "label",
            "max_uses",
            "uses",
            "bookable_from",
            "bookable_until",
            "lock_to_contact",
            "source",
            "first_opened_at",
            "open_count",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, link: OneTimeLink) -> str:
        return one_time_link_url(link=link)

    def get_token(self, link: OneTimeLink) -> str:
        return link.token

    @extend_schema_field(serializers.ChoiceField(choices=OneTimeLink.State.choices))
    def get_state(self, link: OneTimeLink) -> str:
        # One "now" for a whole list, so a page never shows a link in two states.
        now = self.context.get("now") or timezone.now()
        return str(link.state_at(now))


class OneTimeLinkCreateSerializer(serializers.Serializer):
    contact = serializers.PrimaryKeyRelatedField(
        # Narrowed to the calendar owner's contacts by the view: another's id is refused.
        queryset=Contact.objects.none(),
        required=False,
        allow_null=True,
        help_text="The contact the link is for: the booking page prefills their name and email.",
    )
    label = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_single_line],
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the link stops working if still unused."
    )
    max_uses = serializers.IntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=OneTimeLink.MAX_USES,
        help_text="How many bookings the link takes (a cancelled booking keeps its use).",
    )
    bookable_from = serializers.DateField(
        required=False, allow_null=True, help_text="First date offered, in the calendar's zone."
    )
    bookable_until = serializers.DateField(
        required=False, allow_null=True, help_text="Last date offered, in the calendar's zone."
    )
    lock_to_contact = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only the contact's email can book (needs `contact`).",
    )

    def validate(self, attrs: dict) -> dict:
        errors = {}
        first, last = attrs.get("bookable_from"), attrs.get("bookable_until")
        if first and last and last < first:
            errors["bookable_until"] = ["The range ends before it starts."]
        if attrs.get("lock_to_contact") and not attrs.get("contact"):
            errors["lock_to_contact"] = ["Only a link made for a contact can be locked to it."]
        if errors:
            raise ValidationError(errors)
        return attrs


class OneTimeLinkFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=OneTimeLink.State.choices, required=False)


def _own_calendar(request: Request, calendar_id: int) -> Calendar:
    return get_object_or_404(Calendar.objects.visible_to(request.user), pk=calendar_id)


class CalendarOneTimeLinksView(APIView):
    @extend_schema(
        operation_id="calendar_one_time_links_list",
        summary="List a calendar's one-time links",
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=[choice for choice, _ in OneTimeLink.State.choices],
                description="Only links in this state (derived at the time of the request).",
            )
        ],
        responses={200: OneTimeLinkSerializer(many=True)},
        tags=["one-time links"],
    )
    def get(self, request: Request, calendar_id: int) -> Response:
        calendar = _own_calendar(request, calendar_id)
        filters = OneTimeLinkFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        now = timezone.now()
        links = OneTimeLink.objects.filter(calendar=calendar).order_by("-created_at", "-id")
        if filters.validated_data.get("state"):
            links = one_time_links_in_state(links, state=filters.validated_data["state"], now=now)
        data = OneTimeLinkSerializer(links, many=True, context={"now": now}).data
        return Response(data)

    @extend_schema(
        operation_id="calendar_one_time_links_create",
        summary="Generate a one-time link",
        request=OneTimeLinkCreateSerializer,
        responses={201: OneTimeLinkSerializer},
        tags=["one-time links"],
    )
    def post(self, request: Request, calendar_id: int) -> Response:
        calendar = _own_calendar(request, calendar_id)
        body = OneTimeLinkCreateSerializer(data=request.data)
        body.fields["contact"].queryset = Contact.objects.filter(owner_id=calendar.owner_id)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            link = one_time_link_generate(
                calendar=calendar,
                created_by=request.user,
                source=OneTimeLink.Source.API,
                contact=data.get("contact"),
                label=data["label"],
                expires_at=data.get("expires_at"),
                max_uses=data["max_uses"],
                bookable_from=data.get("bookable_from"),
                bookable_until=data.get("bookable_until"),
                lock_to_contact=data["lock_to_contact"],
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(OneTimeLinkSerializer(link).data, status=status.HTTP_201_CREATED)


class OneTimeLinkDetailView(APIView):
    @extend_schema(
        operation_id="one_time_link_retrieve",
        summary="One one-time link",
        responses={200: OneTimeLinkSerializer, 404: OpenApiResponse(description="No such link.")},
        tags=["one-time links"],
    )
    def get(self, request: Request, link_id: int) -> Response:
        link = get_object_or_404(OneTimeLink.objects.visible_to(request.user), pk=link_id)
        return Response(OneTimeLinkSerializer(link).data)


class OneTimeLinkRevokeView(APIView):
    @extend_schema(
        operation_id="one_time_link_revoke",
        summary="Revoke a one-time link",
        description="Idempotent; a used or expired link is returned unchanged.",
        request=None,
        responses={200: OneTimeLinkSerializer},
        tags=["one-time links"],
    )
    def post(self, request: Request, link_id: int) -> Response:
        link = get_object_or_404(OneTimeLink.objects.visible_to(request.user), pk=link_id)
        link = one_time_link_revoke(link=link)
        return Response(OneTimeLinkSerializer(link).data)


# Public: the token in the path is the credential.


class PublicCalendarSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    duration_minutes = serializers.IntegerField()
    timezone = serializers.CharField()
    requires_consent = serializers.BooleanField()
    consent_text = serializers.CharField()
    owner = inline_serializer(
        name="LinkOwner",
        fields={"name": serializers.CharField(), "email": serializers.EmailField()},
    )


class PublicLinkSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=OneTimeLink.State.choices,
        help_text="Only an active link takes a booking (a deactivated calendar reads expired).",
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    uses_left = serializers.IntegerField(help_text="Bookings the link still takes.")
    bookable_from = serializers.DateField(
        allow_null=True, help_text="First date offered, in the calendar's timezone."
    )
    bookable_until = serializers.DateField(
        allow_null=True, help_text="Last date offered, in the calendar's timezone."
    )
    lock_to_contact = serializers.BooleanField(
        help_text="Only the prefilled email can book through this link."
    )
    calendar = PublicCalendarSummarySerializer()
    prefill = inline_serializer(
        name="LinkPrefill",
        fields={"name": serializers.CharField(), "email": serializers.EmailField()},
        allow_null=True,
        help_text="The contact the link was made for, to fill in the booking form.",
    )


GoneSerializer = inline_serializer(
    name="LinkGone",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "state": serializers.CharField(),
    },
)
NOT_FOUND = OpenApiResponse(description="No such link (also for a malformed token).")
GONE = OpenApiResponse(GoneSerializer, description="The link was used, expired or revoked.")


def _link_or_404(token: str, **kwargs) -> OneTimeLink:
    link = one_time_link_get_by_token(token=token, **kwargs)
    if link is None:
        raise NotFound()
    return link


def _gone(link: OneTimeLink) -> Response:
    return Response(
        {
            "detail": "This link has expired. Contact the person who sent it for a new one.",
            "code": LINK_UNAVAILABLE_CODE,
            "state": one_time_link_public_state(link=link),
        },
        status=status.HTTP_410_GONE,
    )


class _SecretURLView(PublicAPIView):
    """A public endpoint whose URL holds a one-time link's token: like the link pages, its
    answers (errors too) are never cached and send no Referer onwards."""

    def finalize_response(self, request, response, *args, **kwargs):
        return secret(super().finalize_response(request, response, *args, **kwargs))


class PublicLinkView(_SecretURLView):
    @extend_schema(
        operation_id="public_one_time_link",
        summary="A one-time link's calendar and state",
        responses={200: PublicLinkSerializer, 404: NOT_FOUND},
        tags=["public"],
        auth=[],
    )
    def get(self, request: Request, token: str) -> Response:
        link = _link_or_404(token)
        calendar = link.calendar
        return Response(
            {
                "state": one_time_link_public_state(link=link),
                "expires_at": link.expires_at,
                "uses_left": link.uses_left,
                "bookable_from": link.bookable_from,
                "bookable_until": link.bookable_until,
                "lock_to_contact": link.lock_to_contact,
                "calendar": {
                    "name": calendar.name,
                    "description": calendar.description,
                    "duration_minutes": calendar.duration_minutes,
                    "timezone": calendar.timezone,
                    "requires_consent": calendar.requires_consent,
                    "consent_text": calendar.consent_text,
                    "owner": one_time_link_owner(link=link),
                },
                "prefill": one_time_link_prefill(link=link),
            }
        )


class PublicLinkSlotsView(_SecretURLView):
    @extend_schema(
        operation_id="public_one_time_link_slots",
        summary="Free slot starts of a one-time link's calendar",
        description="Same query and answer as the calendar slots API.",
        parameters=SLOTS_PARAMETERS,
        responses={
            200: SlotsAnswerSerializer,
            400: OpenApiResponse(description="A message per bad field: start, end, timezone."),
            404: NOT_FOUND,
            410: GONE,
        },
        tags=["public"],
        auth=[],
    )
    def get(self, request: Request, token: str) -> Response:
        link = _link_or_404(token)
        if not one_time_link_is_usable(link=link):
            return _gone(link)
        # The calendar's name, not its slug: the link should not hand out the scheduling URL.
        response = slots_response(
            calendar=link.calendar,
            query_params=request.query_params,
            label=link.calendar.name,
            clamp=lambda lo, hi: one_time_link_clamp(link=link, range_start=lo, range_end=hi),
        )
        # The visitor's page asks for these to show the link's times: an open (README).
        one_time_link_record_open(link=link)
        return response


class RenewalRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="Whom the owner should send a new link to.")
    message = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_LENGTH
    )


class PublicLinkRenewalView(PublicAPIView):
    @extend_schema(
        operation_id="public_one_time_link_renewal_request",
        summary="Ask the owner for a new link (for a spent link)",
        description="202 whether or not the request was new (one per link and email per "
        "hour); nothing is emailed to the given address. 409 while the link still books.",
        request=RenewalRequestSerializer,
        responses={
            202: inline_serializer(
                name="RenewalAccepted", fields={"detail": serializers.CharField()}
            ),
            400: OpenApiResponse(description="A message per bad field."),
            404: NOT_FOUND,
            409: OpenApiResponse(description="The link can still be used to book."),
            429: OpenApiResponse(description="Too many requests from this client."),
        },
        tags=["public"],
        auth=[],
    )
    def post(self, request: Request, token: str) -> Response:
        link = _link_or_404(token)
        body = RenewalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            one_time_link_renewal_request(
                link=link,
                email=body.validated_data["email"],
                message=body.validated_data["message"],
                client=PublicRateThrottle().get_ident(request),
            )
        except LinkStillActive:
            return Response(
                {"detail": "This link can still be used to book.", "code": "link_active"},
                status=status.HTTP_409_CONFLICT,
            )
        except RenewalLimited:
            return Response(
                {"detail": "Too many requests. Please try again later.", "code": "throttled"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        return Response({"detail": RENEWAL_ANSWER}, status=status.HTTP_202_ACCEPTED)


class PublicLinkBookingView(_SecretURLView):
    @extend_schema(
        operation_id="public_one_time_link_booking_create",
        summary="Book through a one-time link (consumes it)",
        description="Same body and answers as a calendar booking, plus 410 once the link "
        "is used, expired or revoked. A refused booking (400, 409) leaves the link active.",
        request=BookingInputSerializer,
        responses=booking_create_responses(not_found=NOT_FOUND, more={410: GONE}),
        tags=["public"],
        auth=[],
    )
    def post(self, request: Request, token: str) -> Response:
        serializer = BookingInputSerializer(data=request.data)
        if not serializer.is_valid():
            # A link that cannot take the booking says so before the body's errors do.
            link = _link_or_404(token, related=LINK_BOOKING_RELATED)
            if not one_time_link_is_usable(link=link):
                return _gone(link)
            raise ValidationError(serializer.errors)
        try:
            # The link is claimed and booked without being read first: one statement more
            # than a plain booking (see bookings.services.one_time_links).
            booking = one_time_link_book(token=token, **serializer.service_kwargs())
        except LinkNotFound as exc:
            raise NotFound() from exc
        except LinkUnavailable:
            return _gone(_link_or_404(token, related=LINK_BOOKING_RELATED))
        except SlotUnavailable as exc:
            return slot_unavailable_response(exc)
        return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "api/calendars/<int:calendar_id>/one-time-links/",
        CalendarOneTimeLinksView.as_view(),
        name="api-calendar-one-time-links",
    ),
    path(
        "api/one-time-links/<int:link_id>/",
        OneTimeLinkDetailView.as_view(),
        name="api-one-time-link",
    ),
    path(
        "api/one-time-links/<int:link_id>/revoke/",
        OneTimeLinkRevokeView.as_view(),
        name="api-one-time-link-revoke",
    ),
    path("api/public/links/<str:token>/", PublicLinkView.as_view(), name="api-public-link"),
    path(
        "api/public/links/<str:token>/slots/",
        PublicLinkSlotsView.as_view(),
        name="api-public-link-slots",
    ),
    path(
        "api/public/links/<str:token>/renewal-request/",
        PublicLinkRenewalView.as_view(),
        name="api-public-link-renewal-request",
    ),
    path(
        "api/public/links/<str:token>/bookings/",
        PublicLinkBookingView.as_view(),
        name="api-public-link-booking-create",
    ),
]
