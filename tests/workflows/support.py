"""Helpers shared by the workflow tests: build workflows through the real services and run
queued steps the way the worker would, without a broker."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from workflows.models import StepRun, Workflow
from workflows.services import step_run_execute, workflow_save
from workflows.validation import validate_workflow

DEFAULT_ACTIONS = ({"type": "add_tag", "config": {"tag": "entered"}},)


def make_workflow(*, user, trigger=None, actions=DEFAULT_ACTIONS, status="published", name="Flow"):
    trigger = trigger or {"type": "manual", "config": {}}
    clean = validate_workflow(status=status, trigger=trigger, actions=list(actions), user=user)
    return workflow_save(workflow=None, name=name, status=status, clean=clean, user=user)


def link_and_email_actions(calendar_id: int, **email_config):
    config = {
        "subject": "Pick a time",
        "body": "Hi {{ contact.first_name }}, book here: {{ link.url }}",
        **email_config,
    }
    return [
        {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar_id}},
        {"key": "email", "type": "send_email", "config": config},
    ]


def run_queued(max_rounds: int = 20) -> list[str]:
    """Execute due queued steps until none is left (what a worker does with run_step)."""
    outcomes = []
    for _ in range(max_rounds):
        queued = list(
            StepRun.objects.filter(status=StepRun.Status.QUEUED)
            .filter(Q(due_at__isnull=True) | Q(due_at__lte=timezone.now()))
            .values_list("pk", flat=True)
        )
        if not queued:
            break
        for step_id in queued:
            outcomes.append(step_run_execute(step_run_id=step_id))
    return outcomes


def published(workflow: Workflow) -> Workflow:
    workflow.status = Workflow.Status.PUBLISHED
    workflow.save(update_fields=["status"])
    return workflow


__all__ = ["link_and_email_actions", "make_workflow", "published", "run_queued", "transaction"]
