"""Admin pieces every app's ModelAdmin can share: the ownership mixin, a safe date drill-down."""

from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.ownership import is_visible_to, owner_path


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


def _is_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


class OwnedAdminMixin:
    """The admin side of config.ownership, for a ModelAdmin or an inline of an owned model.

    Any active staff user works here without per-model permissions to grant, but lists,
    opens and changes only what they own (a superuser: everything); another owner's object
    is simply not found. Foreign keys and many-to-many fields to owned models offer only the
    user's own objects. Admins narrow these permissions further with super() calls.
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).visible_to(request.user)

    def _may(self, request: HttpRequest, obj=None) -> bool:
        if not _is_staff(request):
            return False
        # An inline receives its parent here, and an unsaved object belongs to its maker.
        return obj is None or obj.pk is None or is_visible_to(obj, request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        # ModelAdmin passes (request), an inline (request, parent).
        return self._may(request, args[0] if args else None)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may(request, obj)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        _own_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        _own_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def _own_choices(db_field, request: HttpRequest, kwargs: dict) -> None:
    """Limit a relation to an owned model to the user's own objects (unless the admin gave
    its own choices)."""
    if "queryset" not in kwargs and owner_path(db_field.related_model):
        kwargs["queryset"] = db_field.related_model._default_manager.visible_to(request.user)


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
