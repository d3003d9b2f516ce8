"""One-time link API: staff generate, list and revoke; the public reads and books through one.

Staff endpoints (token or session, staff only): a calendar's links are visible to its owner
and to superusers; for anyone else the calendar or link does not exist (404, not 403, so ids
do not leak). Public endpoints need no authentication: the token in the path is the
credential. A malformed, unknown or forged token is 404; a used, expired or revoked link
is 410 for the endpoints that would use it.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import OneTimeLink
from bookings.services.one_time_links import (
    one_time_link_generate,
    one_time_link_revoke,
    one_time_link_url,
    one_time_links_in_state,
)
from calendars.models import Calendar
from contacts.models import Contact


class OneTimeLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    token = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    calendar = serializers.PrimaryKeyRelatedField(read_only=True)
    contact = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = OneTimeLink
        fields = ["id", "url", "token", "state", "calendar", "contact", "expires_at", "created_at"]
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
        queryset=Contact.objects.all(),
        required=False,
        allow_null=True,
        help_text="The contact the link is for: the booking page prefills their name and email.",
    )
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the link stops working if still unused."
    )


class OneTimeLinkFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=OneTimeLink.State.choices, required=False)


def _own_calendars(request: Request) -> QuerySet[Calendar]:
    if request.user.is_superuser:
        return Calendar.objects.all()
    return Calendar.objects.filter(owner=request.user)


def _own_calendar(request: Request, calendar_id: int) -> Calendar:
    return get_object_or_404(_own_calendars(request), pk=calendar_id)


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
        body.is_valid(raise_exception=True)
        link = one_time_link_generate(
            calendar=calendar,
            created_by=request.user,
            contact=body.validated_data.get("contact"),
            label=body.validated_data["label"],
            expires_at=body.validated_data.get("expires_at"),
        )
        return Response(OneTimeLinkSerializer(link).data, status=status.HTTP_201_CREATED)


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
        link = get_object_or_404(
            OneTimeLink.objects.filter(calendar__in=_own_calendars(request)),
            pk=link_id,
        )
        link = one_time_link_revoke(link=link)
        return Response(OneTimeLinkSerializer(link).data)


urlpatterns = [
    path(
        "api/calendars/<int:calendar_id>/one-time-links/",
        CalendarOneTimeLinksView.as_view(),
        name="api-calendar-one-time-links",
    ),
    path(
        "api/one-time-links/<int:link_id>/revoke/",
        OneTimeLinkRevokeView.as_view(),
        name="api-one-time-link-revoke",
    ),
]
