"""Staff calendar API: /api/calendars/ CRUD. Thin: parse with the serializer, call services."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from calendars.connections import (
    connection_create,
    connection_delete,
    connection_sync,
    connection_update_calendars,
)
from calendars.models import Calendar, Connection
from calendars.selectors import calendar_list_for, connection_list_for
from calendars.serializers import (
    CalendarSerializer,
    ConnectionCreateSerializer,
    ConnectionSerializer,
    ConnectionUpdateSerializer,
)
from calendars.services import (
    CalendarInUse,
    calendar_create,
    calendar_delete,
    calendar_feed_regenerate,
    calendar_update,
)


class CalendarInUseError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "calendar_in_use"


@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                description="The calendar has bookings: set is_active to false instead."
            ),
        }
    )
)
class CalendarViewSet(viewsets.ModelViewSet):
    """A staff user sees and edits only their own calendars; a superuser sees every one.

    Another staff user's calendar answers 404, as if it did not exist.
    """

    serializer_class = CalendarSerializer
    permission_classes = [IsAdminUser]

    def get_queryset(self) -> QuerySet[Calendar]:
        return calendar_list_for(user=self.request.user).order_by("name", "pk")

    def perform_create(self, serializer: CalendarSerializer) -> None:
        serializer.instance = calendar_create(owner=self.request.user, **serializer.service_data())

    def perform_update(self, serializer: CalendarSerializer) -> None:
        serializer.instance = calendar_update(
            calendar=serializer.instance, **serializer.service_data()
        )

    def perform_destroy(self, instance: Calendar) -> None:
        try:
            calendar_delete(calendar=instance)
        except CalendarInUse as exc:
            raise CalendarInUseError(str(exc)) from exc

    @extend_schema(request=None, responses={200: CalendarSerializer})
    @action(detail=True, methods=["post"], url_path="feed/regenerate")
    def regenerate_feed(self, request: Request, pk=None) -> Response:
        """Replace the private feed's token; the old feed URL answers 404 from now on."""
        calendar = calendar_feed_regenerate(calendar=self.get_object())
        return Response(self.get_serializer(calendar).data)


def _as_api_error(exc: ValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


@extend_schema_view(
    list=extend_schema(responses={200: ConnectionSerializer(many=True)}),
    retrieve=extend_schema(responses={200: ConnectionSerializer}),
    create=extend_schema(request=ConnectionCreateSerializer, responses={201: ConnectionSerializer}),
    partial_update=extend_schema(
        request=ConnectionUpdateSerializer, responses={200: ConnectionSerializer}
    ),
    destroy=extend_schema(responses={204: None}),
)
class ConnectionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Connected calendars (CalDAV accounts, ICS subscriptions) of the signed-in staff user;
    a superuser sees every one. Another staff user's connection answers 404."""

    serializer_class = ConnectionSerializer
    permission_classes = [IsAdminUser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Connection]:
        return connection_list_for(user=self.request.user)

    def create(self, request: Request) -> Response:
        form = ConnectionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            connection = connection_create(owner=request.user, **form.validated_data)
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        connection = self.get_object()
        form = ConnectionUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            connection_update_calendars(
                connection=connection, calendars=form.validated_data["calendars"]
            )
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        return Response(ConnectionSerializer(self.get_object()).data)

    def perform_destroy(self, instance: Connection) -> None:
        connection_delete(connection=instance)

    @extend_schema(request=None, responses={200: ConnectionSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, pk=None) -> Response:
        """Sync now; answers when done (each server exchange is bounded by a timeout) with
        `status` ok or error."""
        connection_sync(connection=self.get_object())
        return Response(ConnectionSerializer(self.get_object()).data)
