"""Staff calendar API: /api/calendars/ CRUD. Thin: parse with the serializer, call services."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.permissions import IsAdminUser

from calendars.models import Calendar
from calendars.selectors import calendar_list_for
from calendars.serializers import CalendarSerializer
from calendars.services import CalendarInUse, calendar_create, calendar_delete, calendar_update


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
