"""Workflow writes that follow the appointment: a cancellation stops the runs it started,
a reschedule moves their parked waits. Called by the receivers of the bookings signals
(after the booking's commit), safe to run twice.

Against a step finishing at the same moment: stopping updates the enrollment row, which
`services._advance` locks before queueing a next step, so either the step's advance sees
the run stopped and queues nothing, or the stop's step UPDATE (a later statement) sees the
step it queued and cancels it.
"""

from django.db import transaction
from django.utils import timezone

from bookings.models import Booking
from workflows.actions import wait
from workflows.models import Enrollment, StepRun, TriggerType

CANCELLED_REASON = "appointment cancelled"
_UNFINISHED_STEPS = (StepRun.Status.QUEUED, StepRun.Status.WAITING)


def enrollments_stop(*, enrollment_ids: list[int], reason: str) -> int:
    """Stop these runs if still active: status stopped with `reason`, their queued and
    parked steps cancelled. Returns how many were stopped."""
    if not enrollment_ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        stopped = list(
            Enrollment.objects.select_for_update()
            .filter(pk__in=enrollment_ids, status=Enrollment.Status.ACTIVE)
            .values_list("pk", flat=True)
        )
        Enrollment.objects.filter(pk__in=stopped).update(
            status=Enrollment.Status.STOPPED, stop_reason=reason[:200], finished_at=now
        )
        StepRun.objects.filter(enrollment_id__in=stopped, status__in=_UNFINISHED_STEPS).update(
            status=StepRun.Status.CANCELLED, finished_at=now
        )
    return len(stopped)


def appointment_enrollments_stop(*, booking_id: int) -> int:
    """The appointment was cancelled: stop every active run it started, except those the
    cancellation itself started (a "sorry you cancelled" workflow must still run)."""
    ids = list(
        Enrollment.objects.filter(booking_id=booking_id, status=Enrollment.Status.ACTIVE)
        .exclude(trigger_type=TriggerType.APPOINTMENT_CANCELLED)
        .values_list("pk", flat=True)
    )
    return enrollments_stop(enrollment_ids=ids, reason=CANCELLED_REASON)


def appointment_waits_move(*, booking_id: int) -> int:
    """The appointment moved: every parked wait counted from it gets its new due time (a
    moment now past is released by the next sweep, or stops the run with if_past stop).
    Returns how many waits were moved or stopped."""
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None:
        return 0
    parked = StepRun.objects.filter(
        enrollment__booking_id=booking_id,
        enrollment__status=Enrollment.Status.ACTIVE,
        status=StepRun.Status.WAITING,
        type="wait",
    ).select_related("enrollment")
    now = timezone.now()
    changed = 0
    to_stop = []
    for step in parked:
        config = step.enrollment.actions[step.position].get("config") or {}
        if not wait.is_relative(config):
            continue
        until = wait.relative_until(config, start=booking.start, end=booking.end)
        if until <= now and config.get("if_past") == "stop":
            to_stop.append(step.enrollment_id)
            continue
        # Conditional: a wait released meanwhile keeps its history as it is.
        changed += StepRun.objects.filter(pk=step.pk, status=StepRun.Status.WAITING).update(
            due_at=until, output={**(step.output or {}), "until": until.isoformat()}
        )
    changed += enrollments_stop(enrollment_ids=to_stop, reason=wait.PAST_STOP_REASON)
    return changed
