"""Back on its feet after a crash, with real processes: a worker SIGKILLed mid-step, a broker
restarted empty, a web process killed after its bookings committed. A real Celery worker on
Redis, a real SMTP server, a real HTTP receiver; default leases and sweep intervals, so the
times asserted are the ones the README promises."""

import signal
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bookings.models import OutboxMessage
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.celery_worker import django_subprocess, restart_broker_empty, wait_until
from tests.conftest import redis_url
from tests.contacts.factories import ContactFactory
from tests.http_server import HttpServer, Reply
from tests.workflows.support import make_workflow
from workflows.models import Enrollment, StepRun
from workflows.services import enrollment_create

pytestmark = [pytest.mark.redis, pytest.mark.smtp, pytest.mark.postgres]

EMAIL_STEP = {"key": "email", "type": "send_email", "config": {"subject": "Hi", "body": "Hello"}}


@pytest.fixture
def receiver():
    """A webhook receiver that records every request and holds the first one until
    `receiver.release()` (a slow receiver)."""
    with HttpServer() as server:
        server.default = lambda request: Reply(hold=request is server.requests[0])
        yield server


def inside_a_slow_webhook(worker, receiver) -> Enrollment:
    """Ada enters a webhook-then-email workflow; returns once `worker` is inside the webhook
    call (the receiver holds the request)."""
    owner = UserFactory()
    workflow = make_workflow(
        user=owner,
        actions=[
            {"key": "hook", "type": "send_webhook", "config": {"url": receiver.url + "/hook"}},
            EMAIL_STEP,
        ],
    )
    enrollment = enrollment_create(
        workflow=workflow,
        contact=ContactFactory(owner=owner, email="ada@example.com"),
        trigger_type="manual",
    )
    assert receiver.wait_for_requests(1, timeout=60), worker.log()
    return enrollment


def test_it_runs_a_step_again_after_its_worker_was_killed_mid_webhook(
    smtp_server, celery_worker_factory, receiver, settings
):
    settings.WORKFLOW_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    first = celery_worker_factory()
    enrollment = inside_a_slow_webhook(first, receiver)
    first.kill()  # inside the webhook call
    receiver.release()
    hook = enrollment.steps.get(position=0)
    assert hook.status == StepRun.Status.RUNNING

    # No beat: the worker that starts finds the dead worker's step by itself.
    second = celery_worker_factory()
    restarted = time.monotonic()

    [message] = smtp_server.wait_for(1, timeout=120)
    assert time.monotonic() - restarted < 120
    assert message["To"] == "ada@example.com"
    wait_until(
        lambda: Enrollment.objects.filter(pk=enrollment.pk, status="completed").exists(),
        what="the enrollment",
        worker=second,
    )
    hook.refresh_from_db()
    assert (hook.status, hook.attempts) == ("succeeded", 2)
    # Delivered twice (at-least-once), under one key for the receiver to drop the second.
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [f"steprun:{hook.pk}"] * 2
    assert len(smtp_server.messages) == 1


def test_it_sends_every_queued_step_after_the_broker_restarted_empty(
    smtp_server, celery_worker_factory, monkeypatch
):
    worker = celery_worker_factory(concurrency=4, beat=True)
    owner = UserFactory()
    workflow = make_workflow(user=owner, actions=[EMAIL_STEP])
    contacts = ContactFactory.create_batch(100, owner=owner)
    # The 100 steps' tasks were published, then lost with the broker's memory.
    monkeypatch.setattr("workflows.tasks.run_step.delay", lambda step_id: None)
    with transaction.atomic():
        for contact in contacts:
            enrollment_create(workflow=workflow, contact=contact, trigger_type="manual")
    assert StepRun.objects.filter(status="queued").count() == 100
    restart_broker_empty(redis_url())
    restarted = time.monotonic()

    smtp_server.wait_for(100, timeout=90)
    assert time.monotonic() - restarted < 90

    wait_until(
        lambda: Enrollment.objects.filter(status="completed").count() == 100,
        what="every enrollment",
        worker=worker,
    )
    recipients = [m["To"] for m in smtp_server.messages]
    assert sorted(recipients) == sorted(c.email for c in contacts)
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


BOOK_AND_DIE = """
import os, signal
from datetime import datetime
from config.celery import app
from calendars.models import Calendar
from bookings.models import BookingSource
from bookings.services.bookings import booking_create

# The process dies right after its commits, before any task reaches the broker.
app.send_task = lambda *args, **kwargs: None
calendar = Calendar.objects.get(pk={calendar_id})
for n, start in enumerate({starts!r}):
    booking_create(calendar=calendar, start=datetime.fromisoformat(start),
                   name=f"Invitee {{n}}", email=f"invitee{{n}}@example.com",
                   timezone="UTC", source=BookingSource.API)
print("booked", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_it_confirms_every_booking_of_a_web_process_killed_after_commit(
    smtp_server, celery_worker_factory
):
    worker = celery_worker_factory(beat=True)
    calendar = CalendarFactory(
        owner=UserFactory(email="owner@example.com"), timezone="UTC", duration_minutes=20
    )
    day = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    starts = [(day + timedelta(minutes=20 * n)).isoformat() for n in range(20)]

    result = django_subprocess(BOOK_AND_DIE.format(calendar_id=calendar.pk, starts=starts))
    killed = time.monotonic()

    assert result.returncode == -9, result.stderr
    assert result.stdout.strip() == "booked"
    assert OutboxMessage.objects.filter(status="pending").count() == 40
    smtp_server.wait_for(40, timeout=90)
    assert time.monotonic() - killed < 90
    wait_until(
        lambda: OutboxMessage.objects.filter(status="sent").count() == 40,
        what="every row marked sent",
        worker=worker,
    )
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(
        [f"invitee{n}@example.com" for n in range(20)] + ["owner@example.com"] * 20
    )
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 40


def test_it_finishes_the_step_it_holds_when_stopped_with_sigterm(
    smtp_server, celery_worker_factory, receiver, settings
):
    settings.WORKFLOW_WEBHOOK_ALLOW_PRIVATE = True
    first = celery_worker_factory()
    enrollment = inside_a_slow_webhook(first, receiver)

    first.process.send_signal(signal.SIGTERM)  # inside the webhook call
    receiver.release()
    first.process.wait(60)

    assert first.process.returncode == 0, first.log()
    hook = enrollment.steps.get(position=0)
    assert (hook.status, hook.attempts) == ("succeeded", 1)
    # The next step ran before the worker left, or waits in the broker for the next one.
    second = celery_worker_factory()
    [message] = smtp_server.wait_for(1, timeout=60)
    assert message["To"] == "ada@example.com"
    wait_until(
        lambda: Enrollment.objects.filter(pk=enrollment.pk, status="completed").exists(),
        what="the enrollment",
        worker=second,
    )
    assert len(receiver.requests) == 1
