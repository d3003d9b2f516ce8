"""Staff home box from workflows: steps that failed, each with Retry (config/staff_home.py)."""

from django.http import HttpRequest
from django.urls import reverse

from config.staff_home import Panel, register
from workflows import selectors
from workflows.models import StepRun


@register
def failed_steps(request: HttpRequest) -> Panel:
    workflows = selectors.workflow_list_for(user=request.user)
    steps = (
        StepRun.objects.filter(status=StepRun.Status.FAILED, enrollment__workflow__in=workflows)
        .select_related("enrollment__workflow", "enrollment__contact")
        .order_by("-finished_at", "-pk")[:15]
    )
    rows = [
        {
            "step": step,
            "workflow": step.enrollment.workflow,
            "workflow_url": reverse(
                "admin:workflows_workflow_change", args=[step.enrollment.workflow_id]
            ),
            "retry_url": reverse(
                "admin:workflows_workflow_retry", args=[step.enrollment.workflow_id, step.pk]
            ),
        }
        for step in steps
    ]
    return Panel(
        order=30,
        title="Workflow steps that failed",
        template="admin/home/failed_steps.html",
        context={"rows": rows},
        empty="No failed steps.",
    )
