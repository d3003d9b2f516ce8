"""Celery tasks for bookings: email delivery from the outbox and its sweeper, the report of
one-time links that expired unused, and writing bookings to the owner's connected calendar.

Thin on purpose: the outbox service claims, sends and records; the task only decides when
to try again. Both are safe to run twice (the claim is a conditional UPDATE).
"""

import logging

from celery import shared_task
from celery.signals import worker_ready

from bookings.calendar_sync import booking_calendar_push, booking_event_remove
from bookings.services.link_expiry import one_time_links_report_expired
from bookings.services.outbox import (
    OutboxDeliveryFailed,
    OutboxTransientError,
    lease_seconds,
    max_attempts,
    outbox_deliver,
    outbox_sweep,
)
from calendars.remote import RemoteError

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def deliver_outbox_message(self, message_id: int) -> bool:
    try:
        return outbox_deliver(message_id=message_id)
    except OutboxTransientError as exc:
        # The row's attempts, not this task's retry count, drive the backoff: a message
        # re-enqueued by the sweeper keeps its history. The outbox marks the row failed at
        # OUTBOX_MAX_ATTEMPTS, so this never loops past the cap.
        if exc.attempts >= max_attempts():
            raise
        raise self.retry(exc=exc, countdown=exc.retry_in) from exc


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox_messages(message_ids: list[int]) -> int:
    """Several rows of one event (a booking's invitee and owner emails) in one task.

    Each row is claimed on its own, so a redelivered task sends none twice. A row that
    meets a transient error gets its own retry task with its own backoff; the others go
    ahead. Returns how many this run sent."""
    sent = 0
    for message_id in message_ids:
        try:
            sent += outbox_deliver(message_id=message_id)
        except OutboxTransientError as exc:
            if exc.attempts < max_attempts():
                deliver_outbox_message.apply_async((message_id,), countdown=exc.retry_in)
        except OutboxDeliveryFailed:
            pass  # marked failed (and logged) by the outbox; the rest still go
        except Exception:
            # Not this row's fault (the database went away): its lease ends and the sweep
            # brings it back; the other rows must not wait for that.
            logger.exception("outbox message %s: delivery broke off", message_id)
    return sent


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    """Re-enqueue outbox rows whose task was lost (broker restart, dead worker)."""
    message_ids = outbox_sweep()
    for message_id in message_ids:
        deliver_outbox_message.delay(message_id)
    if message_ids:
        logger.info("outbox sweeper re-enqueued %d messages", len(message_ids))
    return len(message_ids)


@worker_ready.connect
def sweep_outbox_at_start(**kwargs) -> None:
    # A worker that starts takes over what a dead one left, beat or not: at once what is
    # already free, and once more when every lease held at this moment has ended.
    sweep_outbox.delay()
    sweep_outbox.apply_async(countdown=lease_seconds() + 1)


@shared_task(ignore_result=True)
def report_expired_links() -> int:
    """One-time links whose expiry passed unused: one signal per link (beat, every 30 s)."""
    return one_time_links_report_expired()


# Backs off 30 s, 1 min, 2 min ... up to an hour; about a day of tries in all.
WRITE_BACK_RETRIES = 30


def _write_back_retry(task, booking_id: int, exc: RemoteError):
    logger.info("Writing booking %s to its calendar failed: %s", booking_id, exc)
    countdown = min(30 * 2**task.request.retries, 3600)
    return task.retry(exc=exc, countdown=countdown)


@shared_task(bind=True, acks_late=True, max_retries=WRITE_BACK_RETRIES, ignore_result=True)
def push_booking_to_calendar(self, booking_id: int) -> str:
    """Make the owner's write calendar match the booking (idempotent: reads the booking's
    state at run time, PUTs or deletes one fixed event name)."""
    try:
        return booking_calendar_push(booking_id=booking_id)
    except RemoteError as exc:
        raise _write_back_retry(self, booking_id, exc) from exc


@shared_task(bind=True, acks_late=True, max_retries=WRITE_BACK_RETRIES, ignore_result=True)
def remove_deleted_booking_event(self, event_calendar_id: int, booking_id: int) -> str:
    """Delete the event of a booking row that was deleted (idempotent: a DELETE of one
    fixed event name; one already gone is fine)."""
    try:
        return booking_event_remove(event_calendar_id=event_calendar_id, booking_id=booking_id)
    except RemoteError as exc:
        raise _write_back_retry(self, booking_id, exc) from exc
