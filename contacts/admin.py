"""Contacts admin: search and tag filter. ("Add to workflow" is added by the workflows app,
which sits above contacts: workflows/admin_contacts.py.)

Saving goes through the contacts services, so a contact created here fires the
`contact_created` trigger and tags added here fire `contact_tag_added`.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import OwnedAdminMixin, SafeDateHierarchyMixin
from contacts.models import Contact, Tag
from contacts.services import contact_create, contact_get_by_email, contact_update

DUPLICATE_EMAIL = "A contact with this email already exists."


class ContactForm(forms.ModelForm):
    # Set by ContactAdmin.get_form: who saves (the owner of a new contact, unless a
    # superuser picks another).
    user = None

    class Meta:
        model = Contact
        fields = ["owner", "first_name", "last_name", "email", "phone", "tags"]

    def clean(self) -> dict:
        data = super().clean()
        email = data.get("email")
        if email:
            owner = self._owner()
            existing = contact_get_by_email(owner=owner, email=email)
            if existing is not None and existing.pk != self.instance.pk:
                self.add_error("email", DUPLICATE_EMAIL)
        return data

    def validate_unique(self) -> None:
        # The one unique rule (email per owner) is checked in clean() as a field error; the
        # model's check of the same constraint would repeat it as a form-wide error.
        pass

    def _owner(self):
        if "owner" in self.cleaned_data:
            return self.cleaned_data["owner"]
        return self.instance.owner if self.instance.owner_id else self.user


@admin.register(Contact)
class ContactAdmin(SafeDateHierarchyMixin, OwnedAdminMixin, admin.ModelAdmin):
    """Staff see and edit their own contacts (a superuser: everyone's, with the owner)."""

    form = ContactForm
    list_display = ["email", "full_name", "phone", "tag_list", "origin", "created_at"]
    list_filter = [("tags", admin.RelatedOnlyFieldListFilter), "origin", "created_at"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    filter_horizontal = ["tags"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).prefetch_related("tags")

    def get_list_display(self, request: HttpRequest):
        if request.user.is_superuser:
            return [*self.list_display, "owner"]
        return self.list_display

    def get_fields(self, request: HttpRequest, obj: Contact | None = None):
        fields = ["first_name", "last_name", "email", "phone", "tags"]
        return ["owner", *fields] if request.user.is_superuser else fields

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type("UserContactForm", (form,), {"user": request.user})

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

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
            saved = contact_update(
                contact=Contact.objects.get(pk=obj.pk), owner=data.get("owner"), tags=tags, **fields
            )
        else:
            owner = data.get("owner") or request.user
            saved = contact_create(owner=owner, origin=Contact.Origin.ADMIN, tags=tags, **fields)
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Tags were set by the service (which sends `contact_tag_added`); the form must not
        # set them again behind its back.
        form.cleaned_data.pop("tags", None)
        super().save_related(request, form, formsets, change)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags are names shared by every owner (a tag trigger matches by name)."""

    list_display = ["name"]
    search_fields = ["name"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser
