"""Staff home box from calendars: connected calendars whose last sync failed
(config/staff_home.py)."""

from django.http import HttpRequest
from django.urls import reverse

from calendars.models import Connection
from config.staff_home import Panel, register


@register
def connections_in_error(request: HttpRequest) -> Panel | None:
    failing = (
        Connection.objects.visible_to(request.user)
        .filter(status=Connection.Status.ERROR)
        .order_by("-created_at")
    )
    rows = [
        {
            "connection": connection,
            "error": connection.error,
            "url": reverse("admin:calendars_connection_change", args=[connection.pk]),
        }
        for connection in failing[:15]
    ]
    return Panel(
        order=40,
        title="Calendar connections in error",
        template="admin/home/connections.html",
        context={"rows": rows},
        empty="Every calendar connection is working.",
    )
