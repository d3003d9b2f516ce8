"""Admin pieces every app's ModelAdmin can share."""

from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


class DateHierarchyChangeList(ChangeList):
    """Django's change list, with an out-of-range date drill-down treated as a bad lookup.

    Django turns ?<date_hierarchy>__year=9999&__month=12 into a range whose end is in year
    10000, and a 20-digit year into a C long: OverflowError or ValueError outside the
    ValueError guard around its own parsing, so a 500. As IncorrectLookupParameters the
    admin answers it as it does any bad filter: a redirect to the list with ?e=1.
    """

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class SafeDateHierarchyMixin:
    """For a ModelAdmin with `date_hierarchy`: see DateHierarchyChangeList."""

    def get_changelist(self, request, **kwargs):
        return DateHierarchyChangeList


CONFIRM_FIELD = "confirm"


def action_confirmation(
    modeladmin, request: HttpRequest, queryset: QuerySet, *, question: str, button: str
) -> TemplateResponse | None:
    """For an admin action that cannot be undone (cancel, revoke): None once confirmed, else
    a page listing the selected objects that posts the same action again with confirm=yes.
    A plain form, so it asks without JavaScript too (as Django's delete action does)."""
    if request.POST.get(CONFIRM_FIELD) == "yes":
        return None
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        "admin/confirm_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": question,
            "opts": opts,
            "objects": list(queryset[:100]),
            "count": queryset.count(),
            "action": request.POST.get("action", ""),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "button": button,
            "confirm_field": CONFIRM_FIELD,
        },
    )
