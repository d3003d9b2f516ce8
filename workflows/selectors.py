from django.db.models import Prefetch, QuerySet

from config import tokens
from workflows.models import Enrollment, StepRun, TriggerType, Workflow


def workflow_list_for(*, user) -> QuerySet[Workflow]:
    """The workflows a staff user may see and edit: their own, or every one for a superuser."""
    return (
        Workflow.objects.visible_to(user).select_related("created_by").prefetch_related("actions")
    )


def workflow_manual_choices_for(*, user) -> QuerySet[Workflow]:
    return workflow_list_for(user=user).filter(
        status=Workflow.Status.PUBLISHED, trigger_type=TriggerType.MANUAL
    )


def workflow_get_by_webhook_token(*, token: str) -> Workflow | None:
    """The inbound-webhook workflow behind a secret URL, or None for any wrong token."""
    return tokens.lookup(
        Workflow.objects.filter(trigger_type=TriggerType.INBOUND_WEBHOOK),
        token,
        purpose=Workflow.WEBHOOK_TOKEN_PURPOSE,
        locator_field="webhook_locator",
        nonce_field="webhook_nonce",
    )


def enrollment_list(*, workflow: Workflow) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(workflow=workflow)
        .select_related("contact")
        .prefetch_related(Prefetch("steps", queryset=StepRun.objects.order_by("position")))
    )


def published_trigger_types() -> frozenset[str]:
    """The trigger types of published workflows: the question asked after every booking
    and new contact, usually answered "none of these"."""
    return frozenset(
        Workflow.objects.filter(status=Workflow.Status.PUBLISHED)
        .values_list("trigger_type", flat=True)
        .distinct()
    )
