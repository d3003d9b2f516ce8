"""Staff contacts API: /api/contacts/ create, list, update; add and remove tags."""

from django.db import IntegrityError
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.models import Contact
from contacts.serializers import DUPLICATE_EMAIL, ContactSerializer, TagsSerializer
from contacts.services import (
    contact_create,
    contact_tag_add,
    contact_tag_remove,
    contact_update,
)


class ContactPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


def _duplicate_email() -> serializers.ValidationError:
    # The lookup in the serializer lost a race with a concurrent create of the same email.
    return serializers.ValidationError({"email": [DUPLICATE_EMAIL]})


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Part of a name, an email or a phone."),
            OpenApiParameter("tag", str, description="Only contacts with this tag."),
        ]
    )
)
class ContactViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """A staff user sees and edits only their own contacts; a superuser sees every one.

    Another owner's contact answers 404, as if it did not exist. A new contact is the
    creating user's."""

    serializer_class = ContactSerializer
    permission_classes = [IsAdminUser]
    pagination_class = ContactPagination

    def get_queryset(self) -> QuerySet[Contact]:
        qs = (
            Contact.objects.visible_to(self.request.user)
            .prefetch_related("tags")
            .order_by("-created_at", "-pk")
        )
        if self.action != "list":
            # The filters are the list's: a contact is found, updated or tagged by id alone.
            return qs
        search = self.request.query_params.get("search", "").strip()
        if search:
            qs = qs.filter(
                Q(first_name__icontains=search)
                | Q(last_name__icontains=search)
                | Q(email__icontains=search)
                | Q(phone__icontains=search)
            )
        tag = self.request.query_params.get("tag", "").strip()
        if tag:
            qs = qs.filter(tags__name__iexact=tag)
        return qs

    def perform_create(self, serializer: ContactSerializer) -> None:
        try:
            serializer.instance = contact_create(
                owner=self.request.user, origin=Contact.Origin.API, **serializer.service_data()
            )
        except IntegrityError as exc:
            raise _duplicate_email() from exc

    def perform_update(self, serializer: ContactSerializer) -> None:
        try:
            serializer.instance = contact_update(
                contact=serializer.instance, **serializer.service_data()
            )
        except IntegrityError as exc:
            raise _duplicate_email() from exc

    @extend_schema(request=TagsSerializer, responses=ContactSerializer)
    @action(detail=True, methods=["post"], url_path="tags/add")
    def add_tags(self, request: Request, pk=None) -> Response:
        contact = self.get_object()
        names = self._tag_names(request)
        for name in names:
            contact_tag_add(contact=contact, name=name)
        return self._fresh(contact)

    @extend_schema(request=TagsSerializer, responses=ContactSerializer)
    @action(detail=True, methods=["post"], url_path="tags/remove")
    def remove_tags(self, request: Request, pk=None) -> Response:
        contact = self.get_object()
        for name in self._tag_names(request):
            contact_tag_remove(contact=contact, name=name)
        return self._fresh(contact)

    def _tag_names(self, request: Request) -> list[str]:
        serializer = TagsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["tags"]

    def _fresh(self, contact: Contact) -> Response:
        contact = self.get_queryset().get(pk=contact.pk)
        return Response(ContactSerializer(contact).data, status=status.HTTP_200_OK)
