"""Celery entry points: thin, ids only; the logic and its idempotency live in services."""

from celery import shared_task
from celery.signals import worker_ready

from workflows import conf, services


@shared_task(acks_late=True, ignore_result=True)
def run_step(step_run_id: int) -> str:
    return services.step_run_execute(step_run_id=step_run_id)


@shared_task(ignore_result=True)
def release_due_waits() -> int:
    return services.waits_release()


@shared_task(ignore_result=True)
def sweep_steps() -> dict[str, int]:
    requeued, reclaimed = services.steps_sweep()
    return {"requeued": requeued, "reclaimed": reclaimed}


@worker_ready.connect
def sweep_steps_at_start(**kwargs) -> None:
    # A worker that starts takes over what a dead one left, beat or not: at once what is
    # already free, and once more when every lease held at this moment has ended.
    sweep_steps.delay()
    sweep_steps.apply_async(countdown=conf.lease_seconds() + 1)
