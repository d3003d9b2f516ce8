"""Staff home box from calendars: connected calendars in error (config/staff_home.py).

Only when this install has a connection model (a calendar's CalDAV/ICS link) with an error
field; without one, the box is left out.
"""

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest

from config.staff_home import Panel, register

ERROR_FIELDS = ("last_error", "error")


def _connection_model():
    for model in apps.get_app_config("calendars").get_models():
        if "connection" not in model.__name__.lower():
            continue
        for name in ERROR_FIELDS:
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            return model, name
    return None


@register
def connections_in_error(request: HttpRequest) -> Panel | None:
    found = _connection_model()
    if found is None:
        return None
    model, error_field = found
    qs = model._default_manager.exclude(**{error_field: ""}).exclude(
        **{f"{error_field}__isnull": True}
    )
    if not request.user.is_superuser:
        try:
            model._meta.get_field("calendar")
            qs = qs.filter(calendar__owner=request.user)
        except FieldDoesNotExist:
            qs = qs.filter(owner=request.user)
    rows = [
        {"connection": connection, "error": getattr(connection, error_field)}
        for connection in qs[:15]
    ]
    return Panel(
        order=40,
        title="Calendar connections in error",
        template="admin/home/connections.html",
        context={"rows": rows},
        empty="Every calendar connection is working.",
    )
