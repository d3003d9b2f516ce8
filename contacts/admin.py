"""Contacts admin: search, tag filter, and "Add to workflow" (published manual workflows).

Saving goes through the contacts services, so a contact created here fires the
`contact_created` trigger and tags added here fire `contact_tag_added`.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

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


class AddToWorkflowForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from workflows.selectors import workflow_manual_choices_for

        self.fields["workflow"].queryset = workflow_manual_choices_for(user=user)


@admin.register(Contact)
class ContactAdmin(SafeDateHierarchyMixin, StaffPermissions, admin.ModelAdmin):
    form = ContactForm
    list_display = ["email", "full_name", "phone", "tag_list", "created_at"]
    list_filter = [("tags", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    filter_horizontal = ["tags"]
    actions = ["add_to_workflow"]
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
            saved = contact_create(tags=tags, **fields)
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Tags were set by the service (which sends `contact_tag_added`); the form must not
        # set them again behind its back.
        form.cleaned_data.pop("tags", None)
        super().save_related(request, form, formsets, change)

    @admin.action(description="Add to workflow…")
    def add_to_workflow(self, request: HttpRequest, queryset: QuerySet[Contact]):
        from workflows.services import EnrollmentRefused, enrollment_start_manual

        form = AddToWorkflowForm(
            request.POST if "apply" in request.POST else None, user=request.user
        )
        if "apply" in request.POST and form.is_valid():
            workflow = form.cleaned_data["workflow"]
            added, skipped = 0, 0
            for contact in queryset:
                try:
                    enrollment_start_manual(workflow=workflow, contact=contact, by=request.user)
                    added += 1
                except EnrollmentRefused:
                    skipped += 1
            self.message_user(
                request, f"{added} contact(s) added to “{workflow}”.", messages.SUCCESS
            )
            if skipped:
                self.message_user(
                    request,
                    f"{skipped} contact(s) skipped: already active in that workflow.",
                    messages.WARNING,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Add contacts to a workflow",
            "opts": self.model._meta,
            "contacts": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/contacts/contact/add_to_workflow.html", context)


@admin.register(Tag)
class TagAdmin(StaffPermissions, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
