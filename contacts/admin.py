"""Contacts admin: search and tag filter. ("Add to workflow" is added by the workflows app,
which sits above contacts: workflows/admin_contacts.py.)

Saving goes through the contacts services, so a contact created here fires the
`contact_created` trigger and tags added here fire `contact_tag_added`.
"""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import SafeDateHierarchyMixin
from contacts.models import Contact, Tag
from contacts.services import contact_create, contact_get_by_email, contact_update


def _is_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


class StaffPermissions:
    """Contacts are shared by the staff: any active staff user manages them."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return _is_staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return _is_staff(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Contacts are shared by every owner: deleting one cascades away other owners'
        # enrollments and unlinks their bookings, so only a superuser may.
        return request.user.is_active and request.user.is_superuser


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["first_name", "last_name", "email", "phone", "tags"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        existing = contact_get_by_email(email=email)
        if existing is not None and existing.pk != self.instance.pk:
            raise forms.ValidationError("A contact with this email already exists.")
        return email


@admin.register(Contact)
class ContactAdmin(SafeDateHierarchyMixin, StaffPermissions, admin.ModelAdmin):
    form = ContactForm
    list_display = ["email", "full_name", "phone", "tag_list", "origin", "created_at"]
    list_filter = [("tags", admin.RelatedOnlyFieldListFilter), "origin", "created_at"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    filter_horizontal = ["tags"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="Tags")
    def tag_list(self, contact: Contact) -> str:
        return ", ".join(tag.name for tag in contact.tags.all())

    def save_model(self, request: HttpRequest, obj: Contact, form, change: bool) -> None:
        data = form.cleaned_data
        fields = {name: data[name] for name in ("first_name", "last_name", "email", "phone")}
        tags = [tag.name for tag in data.get("tags", [])]
        if change:
            # A fresh row: the form already copied the new values onto `obj`, and the
            # service compares against what is stored.
            saved = contact_update(contact=Contact.objects.get(pk=obj.pk), tags=tags, **fields)
        else:
            saved = contact_create(origin=Contact.Origin.ADMIN, tags=tags, **fields)
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Tags were set by the service (which sends `contact_tag_added`); the form must not
        # set them again behind its back.
        form.cleaned_data.pop("tags", None)
        super().save_related(request, form, formsets, change)


@admin.register(Tag)
class TagAdmin(StaffPermissions, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
