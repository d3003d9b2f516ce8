"""The whole path on a real Celery worker (subprocess, Redis) and a real SMTP server:
contact created through the API -> link generated -> email received -> booked through the
link -> link used, second attempt refused. Plus duplicate deliveries, a mail outage, and a
broker that lost its messages."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking, OneTimeLink, OutboxMessage
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.celery_worker import wait_until
from tests.contacts.factories import ContactFactory
from tests.workflows.support import link_and_email_actions, make_workflow
from workflows.models import Enrollment, StepRun
from workflows.services import enrollment_create, steps_sweep
from workflows.tasks import run_step

pytestmark = [pytest.mark.redis, pytest.mark.smtp, pytest.mark.postgres]

LINK_RE = re.compile(r"http://testserver/l/([A-Za-z0-9_\-]+)/")


def task_runs(worker) -> int:
    return len(re.findall(r"Task workflows\.tasks\.run_step\[[^\]]+\] succeeded", worker.log()))


def next_weekday_slot() -> datetime:
    """A start the factory calendar (Mon-Fri 09:00-17:00 UTC) offers: 10:00 UTC on the
    first weekday at least a day ahead."""
    day = (timezone.now() + timedelta(days=1)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def completed(enrollment_id: int) -> bool:
    return Enrollment.objects.filter(pk=enrollment_id, status="completed").exists()


@pytest.fixture
def fast_retries(settings):
    settings.WORKFLOW_RETRY_BASE_SECONDS = 0.3
    settings.WORKFLOW_RETRY_MAX_SECONDS = 1.0
    return settings


def test_it_runs_the_link_and_email_workflow_end_to_end(smtp_server, celery_worker):
    builder = UserFactory()
    calendar = CalendarFactory(owner=builder, name="Intro call")
    api = APIClient()
    api.force_authenticate(builder)
    created = api.post(
        "/api/workflows/",
        {
            "name": "Send a booking link",
            "status": "published",
            "trigger": {"type": "contact_created", "config": {}},
            "actions": link_and_email_actions(calendar.pk),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()

    response = api.post(
        "/api/contacts/",
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
         "phone": "", "tags": []},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Pick a time"
    body = message.get_body(preferencelist=("plain",)).get_content()
    token = LINK_RE.search(body).group(1)
    assert body.startswith("Hi Ada, book here: http://testserver/l/")
    enrollment = Enrollment.objects.get()
    wait_until(lambda: completed(enrollment.pk), what="the enrollment", worker=celery_worker)
    link = OneTimeLink.objects.get()
    assert link.token == token and link.contact.email == "ada@example.com"

    public = APIClient()
    booking_body = {
        "start": next_weekday_slot().isoformat(),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "timezone": "Europe/London",
    }
    booked = public.post(f"/api/public/links/{token}/bookings/", booking_body, format="json")
    assert booked.status_code == 201, booked.json()

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED
    assert link.bookings.get() == Booking.objects.get()
    again = {**booking_body, "start": (next_weekday_slot() + timedelta(hours=1)).isoformat()}
    second = public.post(f"/api/public/links/{token}/bookings/", again, format="json")
    assert second.status_code == 410
    assert Booking.objects.count() == 1


def test_it_sends_one_email_and_makes_one_link_when_tasks_arrive_twice(
    smtp_server, celery_worker_factory
):
    worker = celery_worker_factory(concurrency=4)
    calendar = CalendarFactory()
    workflow = make_workflow(user=calendar.owner, actions=link_and_email_actions(calendar.pk))

    enrollment = enrollment_create(
        workflow=workflow, contact=ContactFactory(owner=calendar.owner), trigger_type="manual"
    )
    first = enrollment.steps.get()
    for _ in range(3):  # three more copies of the first step's task, racing the original
        run_step.delay(first.pk)
    wait_until(lambda: completed(enrollment.pk), what="the enrollment", worker=worker)
    second = enrollment.steps.get(position=1)
    for _ in range(3):  # and late duplicates of the email step
        run_step.delay(second.pk)
    wait_until(lambda: task_runs(worker) == 1 + 3 + 1 + 3, what="every copy", worker=worker)

    assert len(smtp_server.messages) == 1
    assert OneTimeLink.objects.count() == 1
    assert OutboxMessage.objects.count() == 1
    assert list(StepRun.objects.values_list("attempts", flat=True)) == [1, 1]


def test_it_retries_while_the_mail_server_fails_then_delivers(
    smtp_server, fast_retries, celery_worker_factory
):
    smtp_server.refuse_next(2)  # 421: transient
    worker = celery_worker_factory()
    calendar = CalendarFactory()
    workflow = make_workflow(user=calendar.owner, actions=link_and_email_actions(calendar.pk))

    enrollment = enrollment_create(
        workflow=workflow, contact=ContactFactory(owner=calendar.owner), trigger_type="manual"
    )

    smtp_server.wait_for(1)
    wait_until(lambda: completed(enrollment.pk), what="the enrollment", worker=worker)
    step = enrollment.steps.get(position=1)
    assert (step.status, step.attempts, smtp_server.refused) == ("succeeded", 3, 2)
    assert len(smtp_server.messages) == 1


def test_it_fails_the_enrollment_when_the_mail_server_stays_down(
    smtp_server, fast_retries, celery_worker_factory
):
    fast_retries.WORKFLOW_STEP_MAX_ATTEMPTS = 3
    smtp_server.stop()
    worker = celery_worker_factory()
    calendar = CalendarFactory()
    workflow = make_workflow(user=calendar.owner, actions=link_and_email_actions(calendar.pk))

    enrollment = enrollment_create(
        workflow=workflow, contact=ContactFactory(owner=calendar.owner), trigger_type="manual"
    )

    wait_until(
        lambda: Enrollment.objects.filter(pk=enrollment.pk, status="failed").exists(),
        what="the failure",
        worker=worker,
    )
    step = enrollment.steps.get(position=1)
    assert (step.status, step.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in step.error


def test_it_loses_nothing_when_the_broker_loses_its_messages(smtp_server, celery_worker_factory):
    from tests.celery_worker import purge_broker, wait_until
    from tests.conftest import redis_url

    calendar = CalendarFactory()
    workflow = make_workflow(user=calendar.owner, actions=link_and_email_actions(calendar.pk))
    enrollment = enrollment_create(
        workflow=workflow, contact=ContactFactory(owner=calendar.owner), trigger_type="manual"
    )
    purge_broker(redis_url())  # the queued task is gone, as after a broker restart

    worker = celery_worker_factory()
    later = timezone.now() + timedelta(minutes=5)
    assert steps_sweep(now=later) == (1, 0)

    smtp_server.wait_for(1)
    wait_until(lambda: completed(enrollment.pk), what="the enrollment", worker=worker)
