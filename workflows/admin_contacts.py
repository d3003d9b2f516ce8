"""The contacts admin's "Add to workflow" action (published manual workflows).

It lives here, not in contacts/admin.py: contacts sits beside the apps and imports none of
them, so the workflows app adds its action to the contacts admin.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from contacts.admin import ContactAdmin
from contacts.models import Contact
from workflows.selectors import workflow_manual_choices_for
from workflows.services import EnrollmentRefused, enrollment_start_manual


class AddToWorkflowForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workflow"].queryset = workflow_manual_choices_for(user=user)


@admin.action(description="Add to workflow…")
def add_to_workflow(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Contact]
):
    form = AddToWorkflowForm(request.POST if "apply" in request.POST else None, user=request.user)
    if "apply" in request.POST and form.is_valid():
        workflow = form.cleaned_data["workflow"]
        added, skipped = 0, 0
        for contact in queryset:
            try:
                enrollment_start_manual(workflow=workflow, contact=contact, by=request.user)
                added += 1
            except EnrollmentRefused:
                skipped += 1
        modeladmin.message_user(
            request, f"{added} contact(s) added to “{workflow}”.", messages.SUCCESS
        )
        if skipped:
            modeladmin.message_user(
                request,
                f"{skipped} contact(s) skipped: already active in that workflow, or not "
                "contacts of its owner.",
                messages.WARNING,
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Add contacts to a workflow",
        "opts": modeladmin.model._meta,
        "contacts": queryset,
        "form": form,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/contacts/contact/add_to_workflow.html", context)


ContactAdmin.actions = [*(ContactAdmin.actions or []), add_to_workflow]
