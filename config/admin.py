"""Admin pieces every app's ModelAdmin can share."""

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList


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
