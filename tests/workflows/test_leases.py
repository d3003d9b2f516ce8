"""Step leases: a claim lasts WORKFLOW_STEP_LEASE_SECONDS unless renewed, an ended lease is
free for any worker, only the claim holding a step records its outcome, sweeps find lost
work half a minute late, and a stopping worker hands back what it holds."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from config import leases
from tests.calendars.factories import UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import make_workflow
from workflows.actions import REGISTRY
from workflows.models import StepRun
from workflows.services import (
    enrollment_create,
    step_run_execute,
    step_run_lease_renew,
    steps_sweep,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def enroll_email():
    """An enrollment whose one step sends an email (I/O outside a transaction)."""
    owner = UserFactory()
    workflow = make_workflow(
        user=owner,
        actions=[
            {"key": "email", "type": "send_email", "config": {"subject": "Hi", "body": "Hello"}}
        ],
    )
    return enrollment_create(
        workflow=workflow, contact=ContactFactory(owner=owner), trigger_type="manual"
    )


def held_by_a_dead_worker(step: StepRun, *, lease_until=NOW + timedelta(seconds=60)) -> None:
    StepRun.objects.filter(pk=step.pk).update(
        status=StepRun.Status.RUNNING, claimed_at=NOW, lease_until=lease_until, attempts=1
    )


@pytest.fixture
def during_action(monkeypatch):
    """Run `hook(context)` inside the email action, before it does its work."""
    hooks = []
    definition = REGISTRY["send_email"]

    def run(context):
        for hook in hooks:
            hook(context)
        return definition.run(context)

    monkeypatch.setitem(REGISTRY, definition.type, dataclasses.replace(definition, run=run))
    return hooks.append


def test_it_records_when_the_claims_lease_ends(settings, during_action):
    settings.WORKFLOW_STEP_LEASE_SECONDS = 45
    step = enroll_email().steps.get()
    seen = []
    during_action(lambda context: seen.append(StepRun.objects.get(pk=step.pk)))

    assert step_run_execute(step_run_id=step.pk) == "succeeded"

    [running] = seen
    assert (running.status, running.claimed_at) == ("running", NOW)
    assert running.lease_until == NOW + timedelta(seconds=45)
    step.refresh_from_db()
    assert (step.status, step.lease_until) == ("succeeded", None)


def test_it_leaves_a_step_to_the_worker_whose_lease_runs(frozen_time):
    step = enroll_email().steps.get()
    held_by_a_dead_worker(step)
    frozen_time.shift(timedelta(seconds=59))

    assert step_run_execute(step_run_id=step.pk) == "skipped"

    step.refresh_from_db()
    assert (step.status, step.attempts) == ("running", 1)


def test_it_lets_any_worker_take_a_step_whose_lease_ended(frozen_time):
    step = enroll_email().steps.get()
    held_by_a_dead_worker(step)
    frozen_time.shift(timedelta(seconds=61))

    assert step_run_execute(step_run_id=step.pk) == "succeeded"

    step.refresh_from_db()
    assert (step.status, step.attempts) == ("succeeded", 2)


def test_it_extends_the_lease_when_renewed(frozen_time):
    step = enroll_email().steps.get()
    held_by_a_dead_worker(step)
    frozen_time.shift(timedelta(seconds=50))

    assert step_run_lease_renew(step_run_id=step.pk, claim=NOW) is True

    step.refresh_from_db()
    assert step.lease_until == NOW + timedelta(seconds=110)


def test_it_refuses_to_renew_a_lease_another_worker_took_over(frozen_time):
    step = enroll_email().steps.get()
    held_by_a_dead_worker(step)
    frozen_time.shift(timedelta(seconds=61))
    StepRun.objects.filter(pk=step.pk).update(claimed_at=NOW + timedelta(seconds=61))

    assert step_run_lease_renew(step_run_id=step.pk, claim=NOW) is False


def test_it_records_nothing_for_a_worker_that_was_overtaken(during_action):
    enrollment = enroll_email()
    step = enrollment.steps.get()
    later = NOW + timedelta(minutes=5)

    def overtaken(context):
        # Meanwhile the lease ran out and another worker claimed the step.
        StepRun.objects.filter(pk=step.pk).update(claimed_at=later)
        context.lease_renew()

    during_action(overtaken)

    assert step_run_execute(step_run_id=step.pk) == "overtaken"

    step.refresh_from_db()
    assert (step.status, step.claimed_at, step.error) == ("running", later, "")
    assert enrollment.steps.count() == 1


def test_it_does_not_record_a_late_result_over_a_newer_claim(during_action):
    step = enroll_email().steps.get()
    later = NOW + timedelta(minutes=5)
    during_action(lambda context: StepRun.objects.filter(pk=step.pk).update(claimed_at=later))

    assert step_run_execute(step_run_id=step.pk) == "overtaken"

    step.refresh_from_db()
    assert (step.status, step.claimed_at) == ("running", later)


def test_it_sweeps_a_step_whose_lease_ended(frozen_time, enqueued):
    step = enroll_email().steps.get()
    held_by_a_dead_worker(step)

    frozen_time.shift(timedelta(seconds=59))
    assert steps_sweep() == (0, 0)
    frozen_time.shift(timedelta(seconds=2))
    assert steps_sweep() == (0, 1)

    step.refresh_from_db()
    assert (step.status, step.lease_until) == ("queued", None)
    assert "stopped mid-step" in step.error


def test_it_sweeps_a_step_claimed_before_leases_were_recorded(frozen_time, enqueued):
    step = enroll_email().steps.get()
    held_by_a_dead_worker(step, lease_until=None)

    frozen_time.shift(timedelta(seconds=59))
    assert steps_sweep() == (0, 0)
    frozen_time.shift(timedelta(seconds=2))
    assert steps_sweep() == (0, 1)


def test_it_sweeps_a_queued_step_half_a_minute_after_it_was_due(
    frozen_time, enqueued, django_capture_on_commit_callbacks
):
    step = enroll_email().steps.get()
    enqueued.clear()

    frozen_time.shift(timedelta(seconds=29))
    assert steps_sweep() == (0, 0)
    frozen_time.shift(timedelta(seconds=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert steps_sweep() == (1, 0)

    assert enqueued == [(step.pk, None)]


def test_it_sweeps_a_retry_half_a_minute_after_it_was_due(frozen_time, enqueued):
    step = enroll_email().steps.get()
    StepRun.objects.filter(pk=step.pk).update(due_at=NOW + timedelta(minutes=10))

    frozen_time.shift(timedelta(minutes=10, seconds=29))
    assert steps_sweep() == (0, 0)
    frozen_time.shift(timedelta(seconds=2))
    assert steps_sweep() == (1, 0)


def test_it_hands_back_a_step_held_when_the_worker_stops(
    during_action, enqueued, django_capture_on_commit_callbacks
):
    step = enroll_email().steps.get()
    enqueued.clear()
    released = []
    # The worker stops (once) while the action runs.
    during_action(lambda context: released or released.append(leases.release_held()))

    with django_capture_on_commit_callbacks(execute=True):
        assert step_run_execute(step_run_id=step.pk) == "overtaken"

    assert released == [1]
    step.refresh_from_db()
    assert (step.status, step.lease_until) == ("queued", None)
    assert enqueued == [(step.pk, None)]
    assert mail.outbox == []  # the action saw the claim was gone before sending
    assert step_run_execute(step_run_id=step.pk) == "succeeded"
    assert len(mail.outbox) == 1


def test_it_holds_nothing_once_a_step_is_done():
    step = enroll_email().steps.get()

    step_run_execute(step_run_id=step.pk)

    assert leases.release_held() == 0
