"""Workflow writes: save and publish, enroll contacts, run and advance steps.

Execution is at-least-once: a step's task may arrive twice or after a crash. A step is
claimed with a conditional UPDATE (queued, or running with an ended lease -> running, with a
lease of WORKFLOW_STEP_LEASE_SECONDS) so a duplicate does nothing, only the claim that
holds the step records its outcome, actions are idempotent per step run (idempotency keys
`steprun:<id>`), slow I/O happens outside any transaction, and the next step is enqueued
only after the commit that records success. docs/architecture.md, "Claims, leases and
recovery", has the whole design.
"""

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from config import leases
from config.ownership import user_sees_owner
from contacts.models import Contact
from contacts.services import contact_upsert, split_name
from workflows import conf, templating
from workflows.actions import (
    REGISTRY,
    ActionContext,
    ActionFailed,
    ActionTransientError,
    LeaseLost,
    values_expand,
)
from workflows.appointments import APPOINTMENT_TRIGGERS
from workflows.appointments import stored_values as appointment_stored_values
from workflows.models import Enrollment, StepRun, TriggerType, Workflow, WorkflowAction
from workflows.selectors import published_trigger_types
from workflows.triggers import trigger_matches
from workflows.validation import CleanWorkflow, WorkflowInvalid, validate_workflow

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
MAX_WEBHOOK_PAYLOAD_BYTES = 64 * 1024


class EnrollmentRefused(Exception):
    """A manual enrollment that cannot happen; `str()` tells staff why."""


class RetryRefused(Exception):
    pass


def _enqueue(step_run_id: int, *, countdown: float | None = None) -> None:
    """Send the step's task after the current transaction commits (now if none)."""
    from workflows.tasks import run_step  # tasks import services; keep the cycle lazy

    def send() -> None:
        if countdown:
            run_step.apply_async((step_run_id,), countdown=countdown)
        else:
            run_step.delay(step_run_id)

    # robust: a broker that is down must not undo or break what was committed (a booking,
    # a new contact); the step stays queued and the sweeper sends it again later.
    transaction.on_commit(send, robust=True)


# ---------------------------------------------------------------------------- workflows


@transaction.atomic
def workflow_save(
    *, workflow: Workflow | None, name: str, status: str, clean: CleanWorkflow, user
) -> Workflow:
    """Create or replace a workflow from validated input (API). Contacts already inside
    keep the copy of the actions they entered with."""
    if workflow is None:
        workflow = Workflow(created_by=user)
    workflow.name = name
    workflow.status = status
    workflow.trigger_type = clean.trigger_type
    workflow.trigger_config = clean.trigger_config
    workflow.full_clean()
    workflow.save()
    workflow.actions.all().delete()
    WorkflowAction.objects.bulk_create(
        WorkflowAction(
            workflow=workflow, position=position, key=a.key, type=a.type, config=a.config
        )
        for position, a in enumerate(clean.actions)
    )
    return workflow


def workflow_action_specs(*, workflow: Workflow) -> list[dict[str, Any]]:
    return [a.as_spec() for a in workflow.actions.order_by("position", "id")]


def workflow_validate_stored(*, workflow: Workflow, status: str | None = None) -> CleanWorkflow:
    """Re-validate what is stored (e.g. before publishing); raises WorkflowInvalid."""
    return validate_workflow(
        status=status or workflow.status,
        trigger={"type": workflow.trigger_type, "config": workflow.trigger_config},
        actions=workflow_action_specs(workflow=workflow),
        user=None,
    )


def workflow_set_status(*, workflow: Workflow, status: str) -> Workflow:
    """Publish or unpublish. Publishing re-checks the whole workflow first."""
    if status == Workflow.Status.PUBLISHED:
        workflow_validate_stored(workflow=workflow, status=status)
    Workflow.objects.filter(pk=workflow.pk).update(status=status, updated_at=timezone.now())
    workflow.status = status
    return workflow


def workflow_actions_renumber(*, workflow: Workflow) -> None:
    """Positions 0..n-1 in the current order (after an admin reorder)."""
    for position, action in enumerate(workflow.actions.order_by("position", "id")):
        if action.position != position:
            WorkflowAction.objects.filter(pk=action.pk).update(position=position)


def workflow_webhook_rotate(*, workflow: Workflow) -> Workflow:
    from config.tokens import new_nonce

    workflow.webhook_nonce = new_nonce()
    workflow.save(update_fields=["webhook_nonce", "updated_at"])
    return workflow


# --------------------------------------------------------------------------- enrollment


def workflow_contacts(*, workflow: Workflow) -> QuerySet[Contact]:
    """The contacts a workflow may enroll: those its owner sees (a superuser's workflow, or
    one whose creator is gone and so runs as the system's: everyone's)."""
    if workflow.created_by_id is None:
        return Contact.objects.all()
    return Contact.objects.visible_to(workflow.created_by)


def workflow_may_enroll(*, workflow: Workflow, contact: Contact) -> bool:
    """workflow_contacts for one contact in hand, without a query for the contact."""
    if workflow.created_by_id is None:
        return True
    return user_sees_owner(workflow.created_by, contact.owner_id)


def enrollment_create(
    *,
    workflow: Workflow,
    contact: Contact,
    trigger_type: str,
    trigger_data: Mapping[str, Any] | None = None,
    is_test: bool = False,
    booking_id: int | None = None,
) -> Enrollment | None:
    """Enroll a contact and queue its first step after commit. None when the contact is
    already active in this workflow (the same trigger firing again is not a new entry);
    with `booking_id` (an appointment trigger), when already active for that appointment.
    EnrollmentRefused for another owner's contact."""
    if not workflow_may_enroll(workflow=workflow, contact=contact):
        raise EnrollmentRefused(f"{contact} is not a contact of the owner of “{workflow}”.")
    now = timezone.now()
    actions = workflow_action_specs(workflow=workflow)
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                workflow=workflow,
                contact=contact,
                trigger_type=trigger_type,
                trigger_data=dict(trigger_data or {}),
                booking_id=booking_id,
                is_test=is_test,
                actions=actions,
                status=Enrollment.Status.ACTIVE if actions else Enrollment.Status.COMPLETED,
                finished_at=None if actions else now,
                created_at=now,
            )
            if actions:
                step = StepRun.objects.create(
                    enrollment=enrollment,
                    position=0,
                    key=actions[0]["key"],
                    type=actions[0]["type"],
                    queued_at=now,
                )
                _enqueue(step.pk)
    except IntegrityError:
        # The partial unique index: this contact is already inside (maybe by a concurrent
        # trigger that won the race).
        return None
    return enrollment


def enrollment_start_manual(
    *, workflow: Workflow, contact: Contact, is_test: bool = False, by=None
) -> Enrollment:
    """Staff adding a contact (admin action, API, Test run). A test run may use a draft."""
    if not is_test:
        if not workflow.is_published:
            raise EnrollmentRefused("The workflow is not published.")
        if workflow.trigger_type != TriggerType.MANUAL:
            raise EnrollmentRefused("Only workflows with the manual trigger accept contacts.")
    elif not workflow.actions.exists():
        raise EnrollmentRefused("The workflow has no actions to test.")
    enrollment = enrollment_create(
        workflow=workflow,
        contact=contact,
        trigger_type=TriggerType.MANUAL,
        trigger_data={"by": getattr(by, "username", ""), "test": is_test},
        is_test=is_test,
    )
    if enrollment is None:
        raise EnrollmentRefused(f"{contact} is already active in “{workflow}”.")
    return enrollment


def workflows_trigger(
    *,
    trigger_type: str,
    contact_id: int | None,
    event: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
) -> list[Enrollment]:
    """Enroll the contact in every published workflow whose trigger accepts the event.

    Runs after every booking and new contact, where usually no workflow listens: the
    published trigger types (one query per request or task) say whether any workflow
    has this trigger, and only when one does are the workflows and the contact read and
    `event` built (a callable is called then, so the lookups it needs cost nothing on that
    usual path)."""
    if contact_id is None or trigger_type not in published_trigger_types():
        return []
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return []
    # Only the workflows of an owner who sees the contact: a staff user's workflow never
    # starts for another owner's contact (workflow_contacts, as a filter).
    workflows = list(
        Workflow.objects.owned_by_one_who_sees(contact.owner_id)
        .filter(trigger_type=trigger_type, status=Workflow.Status.PUBLISHED)
        .select_related("created_by")
    )
    if callable(event):
        event = event()
    enrollments = []
    for workflow in workflows:
        if not trigger_matches(workflow=workflow, event=event):
            continue
        enrollment = enrollment_create(
            workflow=workflow,
            contact=contact,
            trigger_type=trigger_type,
            trigger_data=event,
            booking_id=event.get("booking_id") if trigger_type in APPOINTMENT_TRIGGERS else None,
        )
        if enrollment is not None:
            enrollments.append(enrollment)
    return enrollments


def inbound_webhook_receive(
    *, workflow: Workflow, payload: Any
) -> tuple[Contact, Enrollment | None]:
    """Upsert the contact named by a JSON payload and enroll it. Raises ValidationError
    with field errors for a payload without a usable email."""
    if not isinstance(payload, dict):
        raise ValidationError({"non_field_errors": "Expected a JSON object."})
    email = payload.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ValidationError({"email": "This field is required."})
    try:
        validate_email(email.strip())
    except ValidationError as exc:
        raise ValidationError({"email": "Enter a valid email address."}) from exc
    fields = {}
    for name in ("first_name", "last_name", "phone"):
        value = payload.get(name, "")
        if not isinstance(value, str):
            raise ValidationError({name: "Expected a string."})
        fields[name] = value.strip()
    if not fields["first_name"] and isinstance(payload.get("name"), str):
        fields["first_name"], fields["last_name"] = split_name(payload["name"])
    if workflow.created_by_id is None:
        raise ValidationError(
            {"non_field_errors": "This workflow's creator is gone: nobody would own the contact."}
        )
    with transaction.atomic():
        # The workflow owner's contact: their webhook feeds their own list.
        contact, _ = contact_upsert(
            owner=workflow.created_by,
            email=email.strip(),
            origin=Contact.Origin.WEBHOOK,
            **fields,
        )
        enrollment = enrollment_create(
            workflow=workflow,
            contact=contact,
            trigger_type=TriggerType.INBOUND_WEBHOOK,
            trigger_data=payload,
        )
    return contact, enrollment


# -------------------------------------------------------------------------- execution


def _stored_values_for(enrollment: Enrollment, contact: Contact) -> dict[str, dict[str, str]]:
    values = {
        templating.CONTACT_NAMESPACE: templating.contact_values(
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone,
        ),
        **appointment_stored_values(enrollment.booking_id),
    }
    values.update(enrollment.values or {})
    return values


def enrollment_action_types(enrollment: Enrollment) -> dict[str, str]:
    """{action key: action type} of the enrollment's steps (namespaces of its values)."""
    return {spec["key"]: spec["type"] for spec in enrollment.actions or ()}


def enrollment_values_expanded(
    enrollment: Enrollment, *, redact: bool = False
) -> dict[str, dict[str, str]]:
    """The enrollment's stored values with computed outputs (a link's `url`) added, for
    staff displays; secret ones replaced by a stand-in with `redact`."""
    return values_expand(
        enrollment.values or {}, types=enrollment_action_types(enrollment), redact=redact
    )


def _lease_ended(now: datetime) -> Q:
    """Steps "running" whose worker's lease ran out (or, claimed before leases were
    recorded, whose claim is older than one): their worker died. Each branch names the
    status, so PostgreSQL searches the (status, time) index with both columns."""
    running = StepRun.Status.RUNNING
    return Q(status=running, lease_until__lt=now) | Q(
        status=running,
        lease_until__isnull=True,
        claimed_at__lt=now - timedelta(seconds=conf.lease_seconds()),
    )


def _held(step_id: int, claim: datetime):
    """The step while the claim made at `claim` still holds it."""
    return StepRun.objects.filter(pk=step_id, status=StepRun.Status.RUNNING, claimed_at=claim)


def step_run_lease_renew(*, step_run_id: int, claim: datetime, now: datetime | None = None) -> bool:
    """Extend the lease of the claim made at `claim` (before slow I/O). False when that
    claim no longer holds the step: another worker took it after the lease ran out."""
    now = now or timezone.now()
    return bool(
        _held(step_run_id, claim).update(
            lease_until=leases.lease_end(now=now, seconds=conf.lease_seconds())
        )
    )


def _release(step_id: int, claim: datetime) -> None:
    """Give a claim back (the worker is stopping mid-step): queued and sent again now."""
    if _held(step_id, claim).update(
        status=StepRun.Status.QUEUED, lease_until=None, queued_at=timezone.now(), due_at=None
    ):
        _enqueue(step_id)


def step_run_execute(*, step_run_id: int, now: datetime | None = None) -> str:
    """Run one step if it is queued and due, or if the lease of the worker running it ran
    out. Returns what happened (for logs and tests): "skipped", "succeeded", "waiting",
    "retrying", "failed" or "overtaken" (another worker took it over meanwhile)."""
    now = now or timezone.now()
    due = Q(status=StepRun.Status.QUEUED) & (
        Q(due_at__isnull=True) | Q(due_at__lte=now + timedelta(seconds=1))
    )
    claimed = StepRun.objects.filter(
        # A step out of attempts is left to the sweeper, which fails it.
        due | (_lease_ended(now) & Q(attempts__lt=conf.max_attempts())),
        pk=step_run_id,
    ).update(
        status=StepRun.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
        claimed_at=now,
        lease_until=leases.lease_end(now=now, seconds=conf.lease_seconds()),
    )
    if not claimed:
        return "skipped"  # a duplicate delivery, not due yet, or already done
    with leases.holding(("step", step_run_id, now), lambda: _release(step_run_id, now)):
        return _execute_claimed(step_run_id)


def _execute_claimed(step_run_id: int) -> str:
    step = StepRun.objects.select_related(
        "enrollment__workflow__created_by",
        "enrollment__contact",
        "enrollment__booking__calendar__owner",
    ).get(pk=step_run_id)
    enrollment = step.enrollment
    if enrollment.status == Enrollment.Status.STOPPED:
        _cancel(step)
        return "cancelled"
    if enrollment.status != Enrollment.Status.ACTIVE:
        _fail(step, "The enrollment is no longer active.")
        return "failed"
    spec = enrollment.actions[step.position]
    definition = REGISTRY.get(spec["type"])
    if definition is None:
        _fail(step, f"Unknown action type “{spec['type']}”.")
        return "failed"
    stored = _stored_values_for(enrollment, enrollment.contact)

    def lease_renew() -> None:
        if not step_run_lease_renew(step_run_id=step.pk, claim=step.claimed_at):
            raise LeaseLost(f"Step {step.pk} was taken over by another worker.")

    context = ActionContext(
        step_run=step,
        enrollment=enrollment,
        contact=enrollment.contact,
        config=spec.get("config") or {},
        values=values_expand(
            stored, types=enrollment_action_types(enrollment), booking=enrollment.booking
        ),
        stored_values=stored,
        lease_renew=lease_renew,
    )
    try:
        if definition.in_transaction:
            # No outside I/O: the action's rows and the step's success commit together.
            with transaction.atomic():
                return _run_and_record(definition, context)
        return _run_and_record(definition, context)
    except LeaseLost:
        logger.warning("Workflow step %s was taken over by another worker", step_run_id)
        return "overtaken"
    except ActionTransientError as exc:
        return _retry_or_fail(step, str(exc))
    except ActionFailed as exc:
        _fail(step, str(exc))
        return "failed"
    except Exception as exc:
        # A bug or an unexpected library error: recorded on the step for the admin to see
        # and retry, instead of the task dying and the step sitting "running".
        logger.exception("Workflow step %s crashed", step_run_id)
        return _retry_or_fail(step, f"{type(exc).__name__}: {exc}")


def _run_and_record(definition, context: ActionContext) -> str:
    step = context.step_run
    result = definition.run(context)
    if result.stop_reason is not None:
        _advance(
            step,
            from_status=StepRun.Status.RUNNING,
            output=result.output,
            stop_reason=result.stop_reason,
        )
        return "stopped"
    if result.wait_until is not None and result.wait_until > timezone.now():
        _held(step.pk, step.claimed_at).update(
            status=StepRun.Status.WAITING,
            due_at=result.wait_until,
            output=result.output,
            lease_until=None,
        )
        return "waiting"
    if not _advance(step, from_status=StepRun.Status.RUNNING, output=result.output):
        return "overtaken"  # the claim was given back or taken over meanwhile
    return "succeeded"


def _advance(
    step: StepRun,
    *,
    from_status: str,
    output: Mapping[str, Any],
    stop_reason: str | None = None,
) -> bool:
    """Mark the step succeeded, keep its outputs as custom values, queue the next step or
    complete the enrollment (stop it, with `stop_reason`). False when another run got there
    first."""
    now = timezone.now()
    # No savepoint when a row-only action already opened the transaction: any error here
    # rolls the whole step back, which is what the caller wants.
    with transaction.atomic(savepoint=False):
        # The enrollment row lock serializes advancing one contact (values are a JSON
        # read-modify-write).
        enrollment = Enrollment.objects.select_for_update().get(pk=step.enrollment_id)
        current = StepRun.objects.filter(pk=step.pk, status=from_status)
        if from_status == StepRun.Status.RUNNING:
            # Only the claim that still holds the step (its lease may have ended and another
            # worker taken over).
            current = current.filter(claimed_at=step.claimed_at)
        updated = current.update(
            status=StepRun.Status.SUCCEEDED,
            output=dict(output),
            finished_at=now,
            error="",
            lease_until=None,
        )
        if not updated:
            return False
        definition = REGISTRY.get(step.type)
        # Declared outputs and the ids they are computed from; an output computed at use
        # (a secret URL) is not in `output` and so never stored.
        declared = (*definition.outputs, *definition.stored_outputs) if definition else ()
        values = dict(enrollment.values or {})
        values[step.key] = {name: str(output[name]) for name in declared if name in output}
        enrollment.values = values
        next_position = step.position + 1
        if enrollment.status != Enrollment.Status.ACTIVE:
            pass  # stopped while this step ran: it is recorded, nothing follows it
        elif stop_reason is not None:
            enrollment.status = Enrollment.Status.STOPPED
            enrollment.stop_reason = stop_reason
            enrollment.finished_at = now
        elif next_position < len(enrollment.actions):
            spec = enrollment.actions[next_position]
            try:
                # A savepoint: the next step exists already only when this step ran again
                # after the state was repaired by hand; that step is left as it is.
                with transaction.atomic():
                    next_step = StepRun.objects.create(
                        enrollment=enrollment,
                        position=next_position,
                        key=spec["key"],
                        type=spec["type"],
                        queued_at=now,
                    )
                _enqueue(next_step.pk)
            except IntegrityError:
                pass
        else:
            enrollment.status = Enrollment.Status.COMPLETED
            enrollment.finished_at = now
        enrollment.save(update_fields=["values", "status", "stop_reason", "finished_at"])
    return True


def _retry_or_fail(step: StepRun, error: str) -> str:
    step.refresh_from_db(fields=["attempts"])
    if step.attempts >= conf.max_attempts():
        _fail(step, f"{error} (gave up after {step.attempts} attempts)")
        return "failed"
    delay = conf.retry_delay(step.attempts)
    now = timezone.now()
    with transaction.atomic():
        updated = _held(step.pk, step.claimed_at).update(
            status=StepRun.Status.QUEUED,
            error=error[:MAX_ERROR_LENGTH],
            queued_at=now,
            due_at=now + timedelta(seconds=delay),
            lease_until=None,
        )
        if updated:
            # A short countdown; if the broker loses it, the sweeper re-enqueues the step.
            _enqueue(step.pk, countdown=delay)
    return "retrying"


def _cancel(step: StepRun) -> None:
    """A claimed step of a stopped enrollment: it does not run."""
    StepRun.objects.filter(pk=step.pk, status=StepRun.Status.RUNNING).update(
        status=StepRun.Status.CANCELLED, finished_at=timezone.now()
    )


def _fail(step: StepRun, error: str) -> None:
    """Fail the step held by the claim `step` was read with, and its enrollment."""
    now = timezone.now()
    error = error[:MAX_ERROR_LENGTH]
    with transaction.atomic():
        if not _held(step.pk, step.claimed_at).update(
            status=StepRun.Status.FAILED, error=error, finished_at=now, lease_until=None
        ):
            return  # another worker holds it now
        Enrollment.objects.filter(pk=step.enrollment_id, status=Enrollment.Status.ACTIVE).update(
            status=Enrollment.Status.FAILED,
            error=f"Step {step.position + 1} ({step.key}): {error}"[:MAX_ERROR_LENGTH],
            finished_at=now,
        )
    logger.warning("Workflow step %s (%s) failed: %s", step.pk, step.key, error)


def step_run_retry(*, step_run: StepRun) -> StepRun:
    """Queue a failed step again (admin Retry); its enrollment becomes active again."""
    now = timezone.now()
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.select_for_update().get(pk=step_run.enrollment_id)
            updated = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.FAILED).update(
                status=StepRun.Status.QUEUED,
                attempts=0,
                queued_at=now,
                due_at=None,
                finished_at=None,
                lease_until=None,
            )
            if not updated:
                raise RetryRefused("Only a failed step can be retried.")
            if enrollment.status != Enrollment.Status.ACTIVE:
                enrollment.status = Enrollment.Status.ACTIVE
                enrollment.finished_at = None
                enrollment.error = ""
                enrollment.save(update_fields=["status", "finished_at", "error"])
            _enqueue(step_run.pk)
    except IntegrityError as exc:
        raise RetryRefused(
            "The contact has entered this workflow again since; that run is still active."
        ) from exc
    step_run.refresh_from_db()
    return step_run


def waits_release(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Advance every waiting step whose time has come (periodic task)."""
    now = now or timezone.now()
    released = 0
    due = StepRun.objects.filter(status=StepRun.Status.WAITING, due_at__lte=now).order_by("due_at")[
        :limit
    ]
    for step in due:
        if _advance(step, from_status=StepRun.Status.WAITING, output=step.output):
            released += 1
    return released


def steps_sweep(*, now: datetime | None = None, limit: int = 500) -> tuple[int, int]:
    """Recover work the broker or a worker lost (periodic task, and at a worker's start):
    re-enqueue steps queued RECOVERY_LOST_AFTER_SECONDS past their due time, and take back
    steps whose worker's lease ran out. Returns the counts (requeued, reclaimed).

    One bounded statement finds them (indexes on status with each time column); SKIP
    LOCKED lets two sweeps run at once without taking the same step twice."""
    now = now or timezone.now()
    late = now - timedelta(seconds=conf.lost_after_seconds())
    queued = StepRun.Status.QUEUED
    lost = Q(status=queued, due_at__isnull=True, queued_at__lte=late) | Q(
        status=queued, due_at__lte=late
    )
    with transaction.atomic():
        found = list(
            StepRun.objects.select_for_update(skip_locked=True)
            .filter(lost | _lease_ended(now))
            .order_by()  # not the model's (a join with the enrollment, then a sort)
            .values_list("pk", "status", "attempts")[:limit]
        )
        requeue = [pk for pk, status, _ in found if status == queued]
        reclaim = [
            pk
            for pk, status, attempts in found
            if status == StepRun.Status.RUNNING and attempts < conf.max_attempts()
        ]
        exhausted = [
            pk
            for pk, status, attempts in found
            if status == StepRun.Status.RUNNING and attempts >= conf.max_attempts()
        ]
        # One statement for both: queued again, and queued_at touched so the next sweep
        # waits again instead of piling up duplicates.
        StepRun.objects.filter(pk__in=[*requeue, *reclaim]).update(
            status=queued,
            queued_at=now,
            due_at=None,
            lease_until=None,
            error=Case(
                When(
                    status=StepRun.Status.RUNNING,
                    then=Value("Taken back after its worker stopped mid-step."),
                ),
                default=F("error"),
                output_field=StepRun._meta.get_field("error"),
            ),
        )
        for step_id in (*requeue, *reclaim):
            _enqueue(step_id)
    for step in StepRun.objects.filter(pk__in=exhausted):
        # Each claim counts: a step that keeps killing its worker must stop somewhere.
        _fail(step, f"Its worker stopped mid-step {step.attempts} times.")
    return len(requeue), len(reclaim)


__all__ = [
    "EnrollmentRefused",
    "RetryRefused",
    "WorkflowInvalid",
    "enrollment_create",
    "enrollment_start_manual",
    "inbound_webhook_receive",
    "step_run_execute",
    "step_run_lease_renew",
    "step_run_retry",
    "steps_sweep",
    "waits_release",
    "workflow_save",
    "workflow_set_status",
    "workflows_trigger",
]
