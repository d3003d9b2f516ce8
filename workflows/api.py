"""Staff workflows API and the public inbound webhook. Thin: serializers parse and shape,
services act."""

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import PublicRateThrottle
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


class InboundWebhookView(APIView):
    """POST JSON with at least an email to a workflow's secret URL: the contact is upserted
    and enrolled. 404 for a wrong secret, 400 for bad JSON or a missing email."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicRateThrottle]
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
        if not workflow.is_published:
            raise Conflict("This workflow is not published.")
        contact, enrollment = services.inbound_webhook_receive(workflow=workflow, payload=payload)
        return Response(
            {"contact": contact.pk, "enrolled": enrollment is not None},
            status=status.HTTP_202_ACCEPTED,
        )
