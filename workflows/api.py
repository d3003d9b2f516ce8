"""Staff workflows API and the public inbound webhook. Thin: serializers parse and shape,
services act."""

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import JSONParser
from config.public_api import PublicAPIView
from workflows import selectors, services
from workflows.models import Workflow
from workflows.serializers import (
    EnrollmentSerializer,
    EnrollRequestSerializer,
    InboundWebhookResponseSerializer,
    InboundWebhookSerializer,
    WorkflowSerializer,
)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class EnrollmentPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class WorkflowViewSet(viewsets.ModelViewSet):
    """A staff user sees and edits only the workflows they created; a superuser sees every
    one. Another user's workflow answers 404, as if it did not exist."""

    serializer_class = WorkflowSerializer
    permission_classes = [IsAdminUser]

    def get_queryset(self) -> QuerySet[Workflow]:
        return selectors.workflow_list_for(user=self.request.user).order_by("name", "pk")

    def perform_create(self, serializer: WorkflowSerializer) -> None:
        serializer.instance = services.workflow_save(
            workflow=None, user=self.request.user, **serializer.service_data()
        )

    def perform_update(self, serializer: WorkflowSerializer) -> None:
        serializer.instance = services.workflow_save(
            workflow=serializer.instance, user=self.request.user, **serializer.service_data()
        )
        # Drop the prefetched actions so the answer shows the new ones.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    @extend_schema(
        request=EnrollRequestSerializer,
        responses={201: EnrollmentSerializer, 409: OpenApiResponse(description="Refused")},
    )
    @action(detail=True, methods=["post"])
    def enroll(self, request: Request, pk=None) -> Response:
        """Add a contact to a published workflow with the manual trigger."""
        workflow = self.get_object()
        serializer = EnrollRequestSerializer(data=request.data)
        # Another owner's contact is refused as an unknown id would be.
        serializer.fields["contact"].queryset = services.workflow_contacts(workflow=workflow)
        serializer.is_valid(raise_exception=True)
        try:
            enrollment = services.enrollment_start_manual(
                workflow=workflow, contact=serializer.validated_data["contact"], by=request.user
            )
        except services.EnrollmentRefused as exc:
            raise Conflict(str(exc)) from exc
        return Response(EnrollmentSerializer(enrollment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=EnrollmentSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=EnrollmentPagination)
    def enrollments(self, request: Request, pk=None) -> Response:
        """Contacts who entered this workflow, newest first, with each step's result."""
        workflow = self.get_object()
        page = self.paginate_queryset(selectors.enrollment_list(workflow=workflow))
        return self.get_paginated_response(EnrollmentSerializer(page, many=True).data)


NUL_MESSAGE = "Null characters are not allowed."
# Deeper than any real form of contact data; far below what the JSON encoder can write back
# (a payload nested ~900 deep parses, then overflows the stack when saved as trigger data).
MAX_PAYLOAD_DEPTH = 32
DEPTH_MESSAGE = f"Nested more than {MAX_PAYLOAD_DEPTH} levels deep."


def _value_error(value) -> str | None:
    """Why a JSON value cannot be stored (a NUL character, too deep), or None."""
    # A loop, not recursion: the parser lets through JSON nested ~900 deep.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_MESSAGE
        elif isinstance(item, dict | list):
            if depth > MAX_PAYLOAD_DEPTH:
                return DEPTH_MESSAGE
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                item = item.values()
            pending.extend((child, depth + 1) for child in item)
    return None


def _payload_errors(payload) -> dict[str, list[str]]:
    """Field errors for the parts of a payload that PostgreSQL could not store.

    The whole payload is kept as the enrollment's trigger data: jsonb holds no NUL
    ("\u0000") and the encoder has a depth limit. Refused here, either is a 400 instead of
    a DataError or RecursionError when the enrollment is saved.
    """
    if not isinstance(payload, dict):
        error = _value_error(payload)
        return {"non_field_errors": [error]} if error else {}
    errors = {}
    for key, value in payload.items():
        if "\x00" in key:
            errors["non_field_errors"] = [NUL_MESSAGE]
        elif error := _value_error(value):
            errors[key] = [error]
    return errors


class InboundWebhookView(PublicAPIView):
    """POST JSON with at least an email to a workflow's secret URL: the contact is upserted
    and enrolled. 404 for a wrong secret, 400 for bad JSON or a missing email."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=InboundWebhookSerializer,
        responses={
            202: InboundWebhookResponseSerializer,
            400: OpenApiResponse(description="Bad JSON or no valid email"),
            404: OpenApiResponse(description="Unknown secret"),
            409: OpenApiResponse(description="The workflow is not published"),
        },
    )
    def post(self, request: Request, token: str) -> Response:
        workflow = selectors.workflow_get_by_webhook_token(token=token)
        if workflow is None:
            raise Http404
        if len(request.body) > services.MAX_WEBHOOK_PAYLOAD_BYTES:
            raise exceptions.ValidationError({"non_field_errors": ["The body is too large."]})
        payload = request.data  # parsed here: bad JSON is a 400 ParseError
        errors = _payload_errors(payload)
        if errors:
            raise exceptions.ValidationError(errors)
        if not workflow.is_published:
            raise Conflict("This workflow is not published.")
        contact, enrollment = services.inbound_webhook_receive(workflow=workflow, payload=payload)
        return Response(
            {"contact": contact.pk, "enrolled": enrollment is not None},
            status=status.HTTP_202_ACCEPTED,
        )
