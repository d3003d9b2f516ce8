"""Running enrollments step by step: claims, outputs, retries, failures, waits, sweeps,
and the snapshot that keeps contacts on the steps they entered with."""

import smtplib
import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from bookings.models import OneTimeLink, OutboxMessage
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import link_and_email_actions, make_workflow, run_queued
from workflows import conf
from workflows.models import Enrollment, StepRun, WorkflowAction
from workflows.services import (
    RetryRefused,
    enrollment_create,
    step_run_execute,
    step_run_retry,
    steps_sweep,
    waits_release,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def link_and_email():
    user = UserFactory()
    calendar = CalendarFactory(owner=user, name="Intro call")
    return make_workflow(user=user, actions=link_and_email_actions(calendar.pk))


def enroll(workflow, contact=None):
    return enrollment_create(
        workflow=workflow,
        contact=contact or ContactFactory(owner=workflow.created_by),
        trigger_type="manual",
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable_smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()
    settings.EMAIL_TIMEOUT = 2
    return settings


def test_it_queues_the_first_step_after_commit(
    link_and_email, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enrollment = enroll(link_and_email)
        assert enqueued == []

    step = enrollment.steps.get()
    assert (step.position, step.key, step.status) == (0, "link", StepRun.Status.QUEUED)
    assert enqueued == [(step.pk, None)]


def test_it_sends_each_contact_their_own_link_by_email(link_and_email):
    ada = ContactFactory(owner=link_and_email.created_by, first_name="Ada", email="ada@example.com")
    enrollment = enroll(link_and_email, ada)

    assert run_queued() == ["succeeded", "succeeded"]

    enrollment.refresh_from_db()
    link = OneTimeLink.objects.get()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert link.contact == ada and link.idempotency_key == f"steprun:{enrollment.steps.first().pk}"
    assert enrollment.values["link"]["link_id"] == str(link.pk)
    url = f"http://testserver/l/{link.token}/"
    assert enrollment.values["link"]["calendar_name"] == "Intro call"
    assert enrollment.values["link"]["expires_at"] == "never"
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert mail.outbox[0].body == f"Hi Ada, book here: {url}"
    assert mail.outbox[0].subject == "Pick a time"


def test_it_records_times_attempts_and_output_of_each_step(link_and_email):
    enrollment = enroll(link_and_email)
    run_queued()

    steps = list(enrollment.steps.order_by("position"))
    assert [(s.status, s.attempts) for s in steps] == [("succeeded", 1), ("succeeded", 1)]
    assert all(s.started_at == s.finished_at == NOW for s in steps)
    assert steps[0].output["link_id"] == OneTimeLink.objects.get().pk
    assert steps[1].output["to"] == enrollment.contact.email


def test_it_does_nothing_when_a_step_task_is_delivered_twice(link_and_email):
    enrollment = enroll(link_and_email)
    first = enrollment.steps.get()

    assert step_run_execute(step_run_id=first.pk) == "succeeded"
    assert step_run_execute(step_run_id=first.pk) == "skipped"
    second = enrollment.steps.get(position=1)
    assert step_run_execute(step_run_id=second.pk) == "succeeded"
    assert step_run_execute(step_run_id=second.pk) == "skipped"

    assert OneTimeLink.objects.count() == 1
    assert len(mail.outbox) == 1
    assert enrollment.steps.count() == 2


def test_it_makes_one_link_and_sends_one_email_when_a_crashed_step_runs_again(
    link_and_email, frozen_time, settings
):
    enrollment = enroll(link_and_email)
    run_queued()
    # Pretend both steps' workers died after doing their work but before recording it.
    StepRun.objects.update(
        status=StepRun.Status.RUNNING, claimed_at=NOW, lease_until=NOW + timedelta(seconds=60)
    )
    Enrollment.objects.update(status=Enrollment.Status.ACTIVE, values={})
    frozen_time.shift(timedelta(seconds=61))

    assert steps_sweep() == (0, 2)
    run_queued()

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert OneTimeLink.objects.count() == 1
    assert OutboxMessage.objects.count() == 1
    assert len(mail.outbox) == 1


def test_it_retries_a_transient_failure_with_backoff(link_and_email, unreachable_smtp, enqueued):
    unreachable_smtp.WORKFLOW_RETRY_BASE_SECONDS = 30
    enrollment = enroll(link_and_email)

    assert run_queued() == ["succeeded", "retrying"]

    step = enrollment.steps.get(position=1)
    assert (step.status, step.attempts) == (StepRun.Status.QUEUED, 1)
    assert step.due_at == NOW + timedelta(seconds=30)
    assert "could not be reached" in step.error
    assert step_run_execute(step_run_id=step.pk) == "skipped"  # not due yet


def test_it_doubles_the_backoff_up_to_the_cap(settings):
    from workflows.conf import retry_delay

    settings.WORKFLOW_RETRY_BASE_SECONDS = 10
    settings.WORKFLOW_RETRY_MAX_SECONDS = 60
    assert [retry_delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_it_delivers_once_the_mail_server_recovers(
    link_and_email, unreachable_smtp, frozen_time, settings
):
    enrollment = enroll(link_and_email)
    run_queued()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    frozen_time.shift(timedelta(seconds=conf.retry_base_seconds()))

    assert run_queued() == ["succeeded"]

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert enrollment.steps.get(position=1).attempts == 2
    assert len(mail.outbox) == 1


def test_it_fails_the_step_and_enrollment_after_the_last_attempt(
    link_and_email, unreachable_smtp, frozen_time, settings
):
    settings.WORKFLOW_STEP_MAX_ATTEMPTS = 3
    enrollment = enroll(link_and_email)
    for _ in range(3):
        run_queued()
        frozen_time.shift(timedelta(hours=1))

    enrollment.refresh_from_db()
    step = enrollment.steps.get(position=1)
    assert (step.status, step.attempts) == (StepRun.Status.FAILED, 3)
    assert "gave up after 3 attempts" in step.error
    assert enrollment.status == Enrollment.Status.FAILED
    assert enrollment.error.startswith("Step 2 (email): The mail server could not be reached")
    assert mail.outbox == []


def test_it_retries_a_failed_step_on_request(
    link_and_email, unreachable_smtp, frozen_time, settings, enqueued
):
    settings.WORKFLOW_STEP_MAX_ATTEMPTS = 1
    enrollment = enroll(link_and_email)
    run_queued()
    step = enrollment.steps.get(position=1)
    assert step.status == StepRun.Status.FAILED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    step_run_retry(step_run=step)

    enrollment.refresh_from_db()
    assert (step.status, step.attempts, enrollment.status) == ("queued", 0, "active")
    assert run_queued() == ["succeeded"]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert len(mail.outbox) == 1


class RefusingEmailBackend(BaseEmailBackend):
    """A mail server that refuses every message for good (a 5xx answer)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPDataError(554, b"5.7.1 Message refused")


def test_it_sends_again_an_email_refused_for_good_when_its_step_is_retried(
    link_and_email, settings
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"
    enrollment = enroll(link_and_email)
    assert run_queued() == ["succeeded", "failed"]
    step = enrollment.steps.get(position=1)
    message = OutboxMessage.objects.get(key=f"steprun:{step.pk}")
    assert message.status == OutboxMessage.Status.FAILED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    step_run_retry(step_run=step)

    assert run_queued() == ["succeeded"]
    enrollment.refresh_from_db()
    message.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert message.status == OutboxMessage.Status.SENT
    assert len(mail.outbox) == 1


def test_it_refuses_to_retry_a_step_that_did_not_fail(link_and_email):
    enrollment = enroll(link_and_email)
    with pytest.raises(RetryRefused):
        step_run_retry(step_run=enrollment.steps.get())


def test_it_fails_for_good_on_a_permanent_error(link_and_email):
    enrollment = enroll(link_and_email)
    enrollment.actions[0]["config"]["calendar"] = 0
    enrollment.save(update_fields=["actions"])

    assert run_queued() == ["failed"]

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert enrollment.steps.get().error == "The calendar of this action no longer exists."


def test_it_parks_a_wait_and_releases_it_when_due(frozen_time):
    user = UserFactory()
    workflow = make_workflow(
        user=user,
        actions=[
            {"key": "pause", "type": "wait", "config": {"amount": 2, "unit": "hours"}},
            {"key": "tag", "type": "add_tag", "config": {"tag": "waited"}},
        ],
    )
    enrollment = enroll(workflow)

    assert run_queued() == ["waiting"]
    step = enrollment.steps.get()
    assert (step.status, step.due_at) == (StepRun.Status.WAITING, NOW + timedelta(hours=2))

    frozen_time.shift(timedelta(hours=1, minutes=59))
    assert waits_release() == 0
    frozen_time.shift(timedelta(minutes=1))
    assert waits_release() == 1
    assert waits_release() == 0

    assert run_queued() == ["succeeded"]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert list(enrollment.contact.tags.values_list("name", flat=True)) == ["waited"]


def test_it_re_enqueues_a_step_the_broker_lost(
    link_and_email, frozen_time, enqueued, django_capture_on_commit_callbacks
):
    enrollment = enroll(link_and_email)
    step = enrollment.steps.get()

    assert steps_sweep() == (0, 0)
    frozen_time.shift(timedelta(seconds=conf.lost_after_seconds() + 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert steps_sweep() == (1, 0)
    assert steps_sweep() == (0, 0)  # touched: the next sweep waits again

    assert (step.pk, None) in enqueued
    assert run_queued() == ["succeeded", "succeeded"]


def test_it_fails_a_step_that_keeps_killing_its_worker(link_and_email, frozen_time, settings):
    enrollment = enroll(link_and_email)
    StepRun.objects.update(
        status=StepRun.Status.RUNNING,
        claimed_at=NOW,
        lease_until=NOW + timedelta(seconds=60),
        attempts=conf.max_attempts(),
    )
    frozen_time.shift(timedelta(seconds=61))

    assert steps_sweep() == (0, 0)

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert "stopped mid-step" in enrollment.steps.get().error


def test_it_keeps_active_enrollments_on_the_actions_they_entered_with(link_and_email):
    ada = ContactFactory(owner=link_and_email.created_by, first_name="Ada")
    enrollment = enroll(link_and_email, ada)
    run_queued(max_rounds=0)
    # The builder rewrites the email and appends a step while Ada is inside.
    email = link_and_email.actions.get(key="email")
    email.config = {"subject": "New subject", "body": "New body {{ link.url }}"}
    email.save()
    WorkflowAction.objects.create(
        workflow=link_and_email, position=2, key="tag", type="add_tag", config={"tag": "x"}
    )

    run_queued()

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert enrollment.steps.count() == 2
    assert mail.outbox[0].subject == "Pick a time"
    newcomer = enroll(link_and_email)
    run_queued()
    assert mail.outbox[1].subject == "New subject"
    assert newcomer.steps.count() == 3


def test_it_does_not_enroll_a_contact_already_active(link_and_email):
    contact = ContactFactory(owner=link_and_email.created_by)
    assert enroll(link_and_email, contact) is not None
    assert enroll(link_and_email, contact) is None
    assert Enrollment.objects.count() == 1


def test_it_enrolls_again_once_the_earlier_run_finished(link_and_email):
    contact = ContactFactory(owner=link_and_email.created_by)
    enroll(link_and_email, contact)
    run_queued()
    assert enroll(link_and_email, contact) is not None
    assert Enrollment.objects.filter(contact=contact).count() == 2


def test_it_completes_an_enrollment_with_no_actions_at_once():
    workflow = make_workflow(user=UserFactory(), actions=[], status="draft")
    enrollment = enroll(workflow)
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert enrollment.steps.count() == 0


def test_it_escapes_values_in_the_html_body():
    user = UserFactory()
    workflow = make_workflow(
        user=user,
        actions=[
            {
                "type": "send_email",
                "config": {
                    "subject": "Hi {{ contact.first_name }}",
                    "body": "Hi {{ contact.first_name }}",
                    "body_html": "<p>Hi {{ contact.first_name }}</p>",
                },
            }
        ],
    )
    enroll(workflow, ContactFactory(owner=user, first_name="<b>Eve</b>"))
    run_queued()

    message = mail.outbox[0]
    assert message.body == "Hi <b>Eve</b>"
    assert message.alternatives[0][0] == "<p>Hi &lt;b&gt;Eve&lt;/b&gt;</p>"


def test_it_releases_waits_from_the_periodic_task(frozen_time, enqueued):
    from django.conf import settings

    from workflows.tasks import release_due_waits

    workflow = make_workflow(
        user=UserFactory(),
        actions=[
            {"key": "pause", "type": "wait", "config": {"amount": 3, "unit": "days"}},
            {"key": "tag", "type": "add_tag", "config": {"tag": "later"}},
        ],
    )
    enrollment = enroll(workflow)
    run_queued()
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["workflows.tasks.release_due_waits"] <= 60
    assert 15 <= schedule["workflows.tasks.sweep_steps"] <= 30
    assert 15 <= schedule["bookings.tasks.sweep_outbox"] <= 30

    frozen_time.shift(timedelta(days=2, hours=23))
    assert release_due_waits() == 0
    frozen_time.shift(timedelta(hours=1))
    assert release_due_waits() == 1

    assert enrollment.steps.get(position=0).status == StepRun.Status.SUCCEEDED
    assert enrollment.steps.get(position=1).status == StepRun.Status.QUEUED


def test_it_keeps_the_enrollment_when_the_broker_is_down(
    link_and_email, monkeypatch, django_capture_on_commit_callbacks, frozen_time
):
    from kombu.exceptions import OperationalError

    from workflows import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.run_step, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment = enroll(link_and_email)

    step = enrollment.steps.get()
    assert step.status == StepRun.Status.QUEUED
    frozen_time.shift(timedelta(seconds=conf.lost_after_seconds() + 1))
    monkeypatch.undo()
    sent = []
    monkeypatch.setattr(tasks.run_step, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert steps_sweep() == (1, 0)
    assert sent == [step.pk]
