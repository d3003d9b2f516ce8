"""The email outbox: every message is a row first, then delivered at most once.

INTERFACE (fixed; booking notifications and the workflow Send Email action depend on it):

    def outbox_enqueue(*, key: str, to: str, subject: str, body_text: str,
                       body_html: str = "", ics: str = "", ics_method: str = "",
                       deliver: bool = True) -> OutboxMessage
        Creates the row for `key` (or returns the existing one: one event, one row) inside
        the caller's transaction; with deliver=True schedules the delivery task on commit.

    def outbox_deliver(*, message_id: int) -> bool
        Claims the row with a conditional UPDATE (pending -> sending), sends through
        Django's mail API, marks it sent. False when another run already has it or it was
        sent. Raises OutboxTransientError when the mail server is unreachable (the row goes
        back to pending with the error, for the caller's retry, due in `retry_in` seconds).

Additions around that interface:

- `outbox_deliver` raises OutboxDeliveryFailed (not a transient error, so no retry) when
  the row is marked failed: the mail server refused the message for good (a 5xx answer),
  the message could not be built (a template error, a header Django refuses) or sent for a
  reason no retry changes, or the attempts reached OUTBOX_MAX_ATTEMPTS. The row keeps the
  error's text; a batch goes on with its other rows. A caller that gets False can read the row's
  status to tell "already sent" from "someone else is sending it".
- `attempts` counts claims, so a worker that dies mid-send still uses up an attempt and a
  message that crashes workers cannot loop forever.
- A claim holds a lease of OUTBOX_LEASE_SECONDS (`lease_until`); a row still "sending"
  after its lease ended (the sender died between claim and result) may be claimed again by
  anyone. The lease is longer than an SMTP exchange can take (EMAIL_TIMEOUT per step), so a
  live sender is not overtaken; the only case that can send twice is a process killed after
  the server accepted the message and before the row was marked (the Message-ID is the
  same, so mail clients show one).
- `outbox_retry` puts failed rows back to pending for the admin's "Retry sending"; sent
  rows are never touched.
- `outbox_sweep` finds rows no task is going to deliver (the broker lost the message, the
  worker died) and hands them back to the queue (docs/architecture.md, "Claims, leases and
  recovery").
- `outbox_enqueue_many(*, messages)` records several unsaved rows with one bulk_create and,
  after commit, publishes ONE delivery task with the ids of the new pending ones (a booking
  event's invitee and owner emails).
- A row may carry a `template` and `context` instead of bodies (`outbox_enqueue` takes
  them too): `outbox_render` (called by `outbox_deliver` on every claim, by the admin's
  preview, by anyone who wants the text) builds the subject, bodies and .ics in memory and
  NEVER stores them.

Why rendered rows are never stored: booking emails carry the booking's management URL
(/b/<token>/) and workflow emails may carry a one-time link (/l/<token>/). Those tokens are
HMACs under SECRET_KEY of values on their rows (config.tokens), so nothing in the database
is a usable link; a stored body would be one. Rendering is deterministic (the context is a
snapshot of the event, the tokens and the .ics stamp are derived, not random), so every
attempt sends the same text under the same Message-ID, and a retry still sends what the
first attempt would have. A row whose booking or link is gone by then cannot be rendered
and is marked failed.

Why render at delivery (the transactional outbox stays whole): the row, with its key, its
recipient, its subject and the event's data (times, revision), is written in the same
transaction as the booking, so one event is one row and a rolled-back booking leaves none;
only the slow part, templates and the .ics, moves to the worker. The booking request and
the calendar lock it holds pay for an INSERT, not for rendering. The claim (a conditional
UPDATE) still guards the send, so a task run twice sends once.

Settings (optional, defaults here): OUTBOX_MAX_ATTEMPTS, OUTBOX_LEASE_SECONDS,
RECOVERY_LOST_AFTER_SECONDS, OUTBOX_RETRY_BACKOFF_SECONDS, OUTBOX_RETRY_BACKOFF_MAX_SECONDS.
"""

import copy
import logging
import random
import smtplib
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from bookings.models import OutboxMessage
from config import leases

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_LEASE_SECONDS = 60
DEFAULT_LOST_AFTER_SECONDS = 30
DEFAULT_RETRY_BACKOFF_SECONDS = 10.0
DEFAULT_RETRY_BACKOFF_MAX_SECONDS = 600.0
_ERROR_LIMIT = 2000


class OutboxTransientError(Exception):
    """The mail server could not be reached; try again in `retry_in` seconds."""

    def __init__(self, message: str = "", *, attempts: int = 0, retry_in: float = 0.0) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.retry_in = retry_in


class OutboxDeliveryFailed(Exception):
    """The message is marked failed: refused for good, or out of attempts. No retry."""


def max_attempts() -> int:
    return int(getattr(settings, "OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def lease_seconds() -> float:
    return float(getattr(settings, "OUTBOX_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def lost_after() -> timedelta:
    """A pending row whose task has not come this long after it was due lost that task."""
    return timedelta(
        seconds=float(getattr(settings, "RECOVERY_LOST_AFTER_SECONDS", DEFAULT_LOST_AFTER_SECONDS))
    )


def retry_backoff(*, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before the next try after `attempts` failed ones.

    Exponential (base, 2*base, 4*base, ...) up to a cap, with "equal jitter": a random
    point in the upper half of the step, so retries of many messages after one outage
    spread out but none comes back immediately.
    """
    base = float(getattr(settings, "OUTBOX_RETRY_BACKOFF_SECONDS", DEFAULT_RETRY_BACKOFF_SECONDS))
    cap = float(
        getattr(settings, "OUTBOX_RETRY_BACKOFF_MAX_SECONDS", DEFAULT_RETRY_BACKOFF_MAX_SECONDS)
    )
    step = min(cap, base * 2 ** max(0, attempts - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


def _deliver_on_commit(message_ids: list[int]) -> None:
    """Publish ONE delivery task for these rows once the caller's transaction commits (one
    row: deliver_outbox_message; several: deliver_outbox_messages).

    robust: a broker that is down at commit time must not turn a committed booking into an
    error page; the sweeper finds the rows a minute later. (A named function, not a partial:
    Django logs a robust callback's failure by its __qualname__, which a partial lacks.)
    """

    def schedule_delivery() -> None:
        # Imported here: bookings.tasks imports this module.
        from bookings.tasks import deliver_outbox_message, deliver_outbox_messages

        if len(message_ids) == 1:
            deliver_outbox_message.delay(message_ids[0])
        else:
            deliver_outbox_messages.delay(message_ids)

    transaction.on_commit(schedule_delivery, robust=True)


def _recorded(message: OutboxMessage) -> OutboxMessage:
    """`message` saved, or the row already recorded under its key (one event, one row).
    A concurrent insert of the same key waits for the other transaction and then fails on
    the unique key inside this savepoint; the caller's transaction goes on with that row."""
    existing = OutboxMessage.objects.filter(key=message.key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        existing = OutboxMessage.objects.filter(key=message.key).first()
        if existing is None:
            raise
        return existing
    return message


# A row's own bookkeeping: a new row starts pending and untried, whatever the caller built.
_BOOKKEEPING = (
    "status",
    "attempts",
    "last_error",
    "created_at",
    "claimed_at",
    "lease_until",
    "sent_at",
)


def _validated(message: OutboxMessage) -> OutboxMessage:
    if (
        message.status != OutboxMessage.Status.PENDING
        or message.attempts
        or message.last_error
        or message.claimed_at is not None
        or message.lease_until is not None
        or message.sent_at is not None
    ):
        raise ValueError("The outbox records new messages only: pending, never tried.")
    # Field checks of what the caller gave, and clean() (text or template); the key's
    # uniqueness is the INSERT's. The bookkeeping was just checked more cheaply: a booking
    # validates two messages, and the model's checks of all fields cost a third more.
    message.full_clean(exclude=_BOOKKEEPING, validate_unique=False, validate_constraints=False)
    return message


def outbox_enqueue(
    *,
    key: str,
    to: str,
    subject: str,
    body_text: str = "",
    body_html: str = "",
    ics: str = "",
    ics_method: str = "",
    deliver: bool = True,
    template: str = "",
    context: dict | None = None,
) -> OutboxMessage:
    """The bodies, or a `template` (a RENDERERS name) and its `context` to render them at
    each delivery: use the latter for any text that holds a secret URL."""
    candidate = _validated(
        OutboxMessage(
            key=key,
            to=to,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            ics=ics,
            ics_method=ics_method,
            template=template,
            context=context or {},
        )
    )
    message = _recorded(candidate)
    if deliver and message.status == OutboxMessage.Status.PENDING:
        _deliver_on_commit([message.pk])
    return message


def outbox_enqueue_many(*, messages: list[OutboxMessage], deliver: bool = True) -> list[int]:
    """Record unsaved rows (with bodies, or with a template and context) with one INSERT;
    returns their ids in order, an existing row's id for a key already recorded. With
    deliver=True one task delivers the pending ones after commit."""
    for message in messages:
        _validated(message)
    try:
        # The usual case (a booking event's new keys): one INSERT for all of them.
        with transaction.atomic():
            rows = OutboxMessage.objects.bulk_create(messages)
    except IntegrityError:
        # A key recorded before (a repeated event), or by a concurrent transaction.
        rows = [_recorded(message) for message in messages]
    pending = sorted(row.pk for row in rows if row.status == OutboxMessage.Status.PENDING)
    if deliver and pending:
        _deliver_on_commit(pending)
    return [row.pk for row in rows]


# A row's `template` names its renderer: a function (message) -> {"body_text", "body_html",
# "ics", "subject"} (any of them but body_text; a missing subject keeps the row's, which
# must then hold no secret). Dotted paths, imported on first use, so that the outbox does
# not import the apps that use it.
RENDERERS: dict[str, str] = {
    "booking": "bookings.notifications.booking_message_render",
    "workflow_email": "workflows.actions.send_email.message_render",
}
_RENDERED_FIELDS = ("subject", "body_text", "body_html", "ics")


def outbox_render(*, message: OutboxMessage) -> OutboxMessage:
    """A copy of `message` with its subject, bodies and .ics rendered, never saved (they may
    hold secret URLs). A row recorded with its text is returned as it is."""
    if not message.needs_rendering:
        return message
    renderer = import_string(RENDERERS[message.template])
    content = {
        field: value for field, value in renderer(message).items() if field in _RENDERED_FIELDS
    }
    if not content.get("body_text"):
        raise ValueError(f"renderer {message.template!r} gave no body_text for {message.key!r}")
    rendered = copy.copy(message)
    for field, value in content.items():
        setattr(rendered, field, value)
    return rendered


def _is_permanent(exc: Exception) -> bool:
    """5xx answers mean "never": retrying would only annoy the server. Everything else
    (4xx, refused or dropped connections, timeouts, DNS) may pass."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def _message_id(message: OutboxMessage) -> str:
    # The same Message-ID on every attempt lets a receiving server or client drop the copy
    # in the one case that can send twice (a sender killed right after the server's 250).
    host = urlsplit(settings.SITE_URL).hostname or "onceslot"
    return f"<outbox.{message.pk}.{int(message.created_at.timestamp())}@{host}>"


def _build_email(message: OutboxMessage) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers={"Message-ID": _message_id(message)},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    if message.ics:
        part = MIMEText(message.ics, "calendar", "utf-8")
        # method= tells mail clients to show it as an invitation (or a cancellation).
        part.set_param("method", message.ics_method or "PUBLISH")
        part.add_header("Content-Disposition", "attachment", filename="invite.ics")
        email.attach(part)
    return email


def _finish(message: OutboxMessage, claimed_at: datetime, **fields) -> None:
    # Only the claim we hold may write the outcome: after its lease ended and another
    # worker claimed the row, the row belongs to that one.
    OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.SENDING, claimed_at=claimed_at
    ).update(**fields)


def _lease_ended(now: datetime) -> Q:
    """Rows "sending" whose sender's lease has run out (or, claimed before leases were
    recorded, whose claim is older than one)."""
    sending = OutboxMessage.Status.SENDING
    # Each branch names the status: PostgreSQL then searches the index with both columns.
    return Q(status=sending, lease_until__lt=now) | Q(
        status=sending,
        lease_until__isnull=True,
        claimed_at__lt=now - timedelta(seconds=lease_seconds()),
    )


def _release(message_id: int, claimed_at: datetime) -> None:
    """Give the claim back (the worker is stopping mid-send): pending again and queued, or
    found by the next sweep if the broker is gone too."""
    if OutboxMessage.objects.filter(
        pk=message_id, status=OutboxMessage.Status.SENDING, claimed_at=claimed_at
    ).update(status=OutboxMessage.Status.PENDING, lease_until=timezone.now() - lost_after()):
        _deliver_on_commit([message_id])


def _failed(message: OutboxMessage, now: datetime, error: str) -> OutboxDeliveryFailed:
    """Mark the row failed with `error`; returns the exception for the caller to raise."""
    error = error[:_ERROR_LIMIT]
    _finish(message, now, status=OutboxMessage.Status.FAILED, last_error=error, lease_until=None)
    return OutboxDeliveryFailed(error)


def outbox_deliver(*, message_id: int, now: datetime | None = None) -> bool:
    """Send the message unless it is sent or being sent. Call outside any transaction:
    the claim must commit before the slow SMTP exchange, and the outcome right after it."""
    now = now or timezone.now()
    claimed = (
        OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING) | _lease_ended(now), pk=message_id
        )
        .filter(attempts__lt=max_attempts())
        .update(
            status=OutboxMessage.Status.SENDING,
            claimed_at=now,
            lease_until=leases.lease_end(now=now, seconds=lease_seconds()),
            attempts=F("attempts") + 1,
        )
    )
    if claimed != 1:
        _fail_exhausted(message_id=message_id, now=now)
        return False
    with leases.holding(("outbox", message_id, now), lambda: _release(message_id, now)):
        return _send_claimed(OutboxMessage.objects.get(pk=message_id), now)


def _send_claimed(message: OutboxMessage, now: datetime) -> bool:
    message_id = message.pk
    try:
        # Rendered again on every attempt (deterministic), never stored; built whole here
        # (headers checked) so that no error of this one message escapes the delivery.
        message = outbox_render(message=message)
        email = _build_email(message)
        email.message()
    except DatabaseError:
        raise  # the database, not the message: the claim's lease ends, then a retry
    except Exception as exc:
        # The booking was deleted, a template broke, a header holds a line break: no retry
        # builds it, so the row is failed for the admin to see (and to retry once fixed).
        logger.exception("outbox message %s could not be built", message_id)
        stage = "rendering" if message.needs_rendering else "building"
        raise _failed(message, now, f"{stage} failed: {type(exc).__name__}: {exc}") from exc
    try:
        email.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]
        if _is_permanent(exc) or message.attempts >= max_attempts():
            logger.warning("outbox message %s failed for good: %s", message_id, error)
            raise _failed(message, now, error) from exc
        retry_in = retry_backoff(attempts=message.attempts)
        # Pending again, its retry due in retry_in seconds: the sweep counts its task lost
        # only some time after that.
        _finish(
            message,
            now,
            status=OutboxMessage.Status.PENDING,
            last_error=error,
            lease_until=timezone.now() + timedelta(seconds=retry_in),
        )
        logger.info("outbox message %s will be retried: %s", message_id, error)
        raise OutboxTransientError(error, attempts=message.attempts, retry_in=retry_in) from exc
    except Exception as exc:
        # Not the network: something about this message (an address smtplib cannot
        # encode); the same would happen on every retry.
        logger.exception("outbox message %s could not be sent", message_id)
        raise _failed(message, now, f"{type(exc).__name__}: {exc}") from exc

    _finish(
        message,
        now,
        status=OutboxMessage.Status.SENT,
        sent_at=timezone.now(),
        last_error="",
        lease_until=None,
    )
    return True


def _fail_exhausted(*, message_id: int, now: datetime) -> None:
    """A pending (or lease-expired sending) row with no attempts left is failed, not left
    for the sweeper to find forever."""
    OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.PENDING) | _lease_ended(now),
        pk=message_id,
        attempts__gte=max_attempts(),
    ).update(status=OutboxMessage.Status.FAILED, lease_until=None)


def outbox_retry(*, message_ids: list[int]) -> int:
    """Give failed (or still pending) rows a fresh set of attempts and deliver them after
    commit. Sent rows and rows being sent are left alone. Returns how many were queued."""
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update()
            .filter(
                pk__in=message_ids,
                status__in=[OutboxMessage.Status.FAILED, OutboxMessage.Status.PENDING],
            )
            .values_list("pk", flat=True)
        )
        OutboxMessage.objects.filter(pk__in=ids).update(
            status=OutboxMessage.Status.PENDING, attempts=0, claimed_at=None, lease_until=None
        )
        if ids:
            _deliver_on_commit(ids)
    return len(ids)


def _stranded(now: datetime) -> Q:
    """Rows that should be moving but have no task: pending and never tried a while after
    creation, pending a while after their retry was due, or "sending" past their lease."""
    late = now - lost_after()
    pending = OutboxMessage.Status.PENDING
    return (
        Q(status=pending, lease_until__isnull=True, created_at__lt=late)
        | Q(status=pending, lease_until__lt=late)
        | _lease_ended(now)
    )


def outbox_sweep(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Hand back rows no task is going to deliver: they become pending, due now, and their
    ids are returned for the caller to enqueue (after this commits). Marking them makes the
    next sweep wait RECOVERY_LOST_AFTER_SECONDS again instead of piling up copies of tasks
    that are only slow, and SKIP LOCKED lets two sweeps run at once without overlapping."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(_stranded(now))
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            # A lease_until of now is "due now": this row counts as lost again only after
            # another RECOVERY_LOST_AFTER_SECONDS.
            OutboxMessage.objects.filter(pk__in=ids).update(
                status=OutboxMessage.Status.PENDING, lease_until=now
            )
    return ids
