"""Celery entry points: thin, ids only; the logic and its idempotency live in services."""

from celery import shared_task

from workflows import services


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
