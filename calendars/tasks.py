"""Connected calendar sync tasks (thin: calendars/connections.py does the work)."""

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from calendars.connections import connection_ids_due, connection_sync
from calendars.models import Connection


@shared_task(acks_late=True, ignore_result=True)
def sync_connection(connection_id: int) -> str | None:
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return None  # removed since it was enqueued
    return connection_sync(connection=connection).status


@shared_task(acks_late=True, ignore_result=True)
def sync_due_connections() -> int:
    """Every CALENDAR_SYNC_INTERVAL_SECONDS (beat): enqueue the connections that are due.
    Claims by moving next_sync_at forward first, so an overlapping run enqueues none twice."""
    now = timezone.now()
    claimed = 0
    for connection_id in connection_ids_due(now=now):
        due = Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
        taken = Connection.objects.filter(due, pk=connection_id)
        if taken.update(next_sync_at=now + timedelta(minutes=10)):
            sync_connection.delay(connection_id)
            claimed += 1
    return claimed
