"""The workflow builder: trigger settings, ordered typed actions with a custom-value picker,
publish/unpublish, Test run, and each enrollment's steps with Retry.

Any active staff user builds workflows here (no per-model permission needed), but sees and
edits only their own; a superuser sees every one (config.admin.OwnedAdminMixin, the API's
rule).
"""

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from config.admin import OwnedAdminMixin
from workflows import admin_contacts, appointments, selectors, services, templating  # noqa: F401 (admin_contacts: the action it adds)
from workflows.actions import REGISTRY
from workflows.admin_forms import (
    ACTION_FIELDS,
    TRIGGER_FIELDS,
    TestRunForm,
    WorkflowActionForm,
    WorkflowActionFormSet,
    WorkflowForm,
)
from workflows.models import Enrollment, StepRun, Workflow, WorkflowAction
from workflows.serializers import webhook_url
from workflows.triggers import TRIGGERS
from workflows.validation import WorkflowInvalid


def builder_config() -> dict:
    """What the builder's script needs: which fields belong to which type, and the custom
    values each action type offers to later steps."""
    return {
        "contact": list(templating.CONTACT_FIELDS),
        "appointment": {
            "names": list(templating.APPOINTMENT_FIELDS),
            "triggers": sorted(appointments.APPOINTMENT_TRIGGERS),
        },
        "actions": {
            name: {
                "label": d.label,
                "category": d.category,
                "default_key": d.default_key,
                "outputs": list(d.outputs),
                "templated": list(d.templated_fields),
                "help": d.help_text,
            }
            for name, d in REGISTRY.items()
        },
        "triggers": {name: {"help": d.help_text} for name, d in TRIGGERS.items()},
    }


class WorkflowActionInline(OwnedAdminMixin, admin.StackedInline):
    model = WorkflowAction
    form = WorkflowActionForm
    formset = WorkflowActionFormSet
    extra = 0
    ordering = ["position", "id"]
    classes = ["workflow-actions"]
    fieldsets = [
        (None, {"fields": ["position", "type", "key"]}),
        (None, {"fields": list(ACTION_FIELDS), "classes": ["action-settings"]}),
    ]

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        kwargs["form"] = type("UserWorkflowActionForm", (self.form,), {"user": request.user})
        return super().get_formset(request, obj, **kwargs)


@admin.register(Workflow)
class WorkflowAdmin(OwnedAdminMixin, admin.ModelAdmin):
    form = WorkflowForm
    inlines = [WorkflowActionInline]
    list_display = ["name", "status", "trigger_type", "action_count", "created_by", "updated_at"]
    list_filter = ["status", "trigger_type"]
    search_fields = ["name"]
    actions = ["publish", "unpublish"]
    change_form_template = "admin/workflows/workflow/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "status"]}),
        ("Trigger", {"fields": ["trigger_type", *TRIGGER_FIELDS], "classes": ["trigger"]}),
    ]

    class Media:
        js = ["js/workflow_builder.js"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workflow]:
        qs = selectors.workflow_list_for(user=request.user)
        return qs.annotate(_action_count=Count("actions", distinct=True))

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type("UserWorkflowForm", (form,), {"user": request.user})

    @admin.display(description="Actions", ordering="_action_count")
    def action_count(self, workflow: Workflow) -> int:
        return workflow._action_count

    def save_model(self, request: HttpRequest, obj: Workflow, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Keys are unique per workflow and rows are saved one by one: park the keys being
        # changed first, so that swapping two keys does not collide half-way.
        for formset in formsets:
            for action_form in formset.forms:
                instance = action_form.instance
                if instance.pk and "key" in action_form.changed_data:
                    WorkflowAction.objects.filter(pk=instance.pk).update(key=f"_{instance.pk}")
        super().save_related(request, form, formsets, change)
        services.workflow_actions_renumber(workflow=form.instance)

    # Extra pages ----------------------------------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("<int:pk>/publish/", wrap(self.publish_view), name="workflows_workflow_publish"),
            path(
                "<int:pk>/unpublish/",
                wrap(self.unpublish_view),
                name="workflows_workflow_unpublish",
            ),
            path("<int:pk>/test-run/", wrap(self.test_run_view), name="workflows_workflow_test"),
            path(
                "<int:pk>/steps/<int:step_pk>/retry/",
                wrap(self.retry_view),
                name="workflows_workflow_retry",
            ),
            path(
                "<int:pk>/rotate-webhook/",
                wrap(self.rotate_view),
                name="workflows_workflow_rotate",
            ),
            *super().get_urls(),
        ]

    def _owned(self, request: HttpRequest, pk: int) -> Workflow:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _back(self, workflow: Workflow) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:workflows_workflow_change", args=[workflow.pk]))

    def _set_status(self, request: HttpRequest, workflow: Workflow, status: str) -> bool:
        try:
            services.workflow_set_status(workflow=workflow, status=status)
        except WorkflowInvalid as exc:
            self.message_user(
                request,
                f"“{workflow}” cannot be published: {_flatten(exc.errors)}",
                messages.ERROR,
            )
            return False
        return True

    def publish_view(self, request: HttpRequest, pk: int):
        return self._status_view(request, pk, Workflow.Status.PUBLISHED)

    def unpublish_view(self, request: HttpRequest, pk: int):
        return self._status_view(request, pk, Workflow.Status.DRAFT)

    def _status_view(self, request: HttpRequest, pk: int, status: str):
        workflow = self._owned(request, pk)
        if request.method != "POST":
            return self._back(workflow)
        if self._set_status(request, workflow, status):
            verb = "published" if status == Workflow.Status.PUBLISHED else "unpublished"
            extra = (
                " Contacts already inside finish the steps they started with."
                if status == Workflow.Status.DRAFT
                else ""
            )
            self.message_user(request, f"“{workflow}” is {verb}.{extra}", messages.SUCCESS)
        return self._back(workflow)

    def test_run_view(self, request: HttpRequest, pk: int):
        workflow = self._owned(request, pk)
        # The contact is one of the workflow owner's (the runner's, if its creator is gone).
        form = TestRunForm(request.POST or None, owner=workflow.created_by or request.user)
        if request.method == "POST" and form.is_valid():
            try:
                enrollment = services.enrollment_start_manual(
                    workflow=workflow, contact=form.contact, is_test=True, by=request.user
                )
            except services.EnrollmentRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"Test run started for {form.contact} (enrollment {enrollment.pk}); "
                    "its steps appear below as the worker runs them.",
                    messages.SUCCESS,
                )
                return self._back(workflow)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test run: {workflow}",
            "workflow": workflow,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/workflows/workflow/test_run.html", context)

    def retry_view(self, request: HttpRequest, pk: int, step_pk: int):
        workflow = self._owned(request, pk)
        step = get_object_or_404(StepRun, pk=step_pk, enrollment__workflow=workflow)
        if request.method == "POST":
            try:
                services.step_run_retry(step_run=step)
            except services.RetryRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Step “{step.key}” queued again.", messages.SUCCESS)
        return self._back(workflow)

    def rotate_view(self, request: HttpRequest, pk: int):
        workflow = self._owned(request, pk)
        if request.method == "POST":
            services.workflow_webhook_rotate(workflow=workflow)
            self.message_user(
                request, "New webhook URL: the old one answers 404 from now on.", messages.SUCCESS
            )
        return self._back(workflow)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        workflow = self.get_object(request, object_id)
        if workflow is not None:
            extra_context["enrollments"] = selectors.enrollment_list(workflow=workflow)[:25]
            extra_context["enrollment_count"] = workflow.enrollments.count()
            if workflow.trigger_type == "inbound_webhook":
                extra_context["webhook_url"] = webhook_url(workflow)
        extra_context["builder_config"] = builder_config()
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "builder_config": builder_config()}
        return super().add_view(request, form_url, extra_context)

    # Bulk actions -----------------------------------------------------------------------

    @admin.action(description="Publish selected workflows")
    def publish(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        done = sum(self._set_status(request, w, Workflow.Status.PUBLISHED) for w in queryset)
        self.message_user(request, f"{done} workflow(s) published.", messages.SUCCESS)

    @admin.action(description="Unpublish selected workflows")
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        done = sum(self._set_status(request, w, Workflow.Status.DRAFT) for w in queryset)
        self.message_user(request, f"{done} workflow(s) unpublished.", messages.SUCCESS)


def _flatten(errors) -> str:
    """One readable line from the API-shaped error tree."""
    parts: list[str] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{where} {key}".strip() if key != "non_field_errors" else where)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    parts.append(f"{where}: {value}" if where else value)
                else:
                    walk(value, f"{where} {index + 1}")

    walk(errors, "")
    return "; ".join(parts)


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = [
        "position",
        "key",
        "type",
        "status",
        "attempts",
        "output",
        "error",
        "due_at",
        "queued_at",
        "started_at",
        "claimed_at",
        "lease_until",
        "finished_at",
    ]
    readonly_fields = fields
    ordering = ["position"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # Shown inside an enrollment the user may see (EnrollmentAdmin).
        return request.user.is_active and request.user.is_staff


@admin.register(Enrollment)
class EnrollmentAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "workflow",
        "contact",
        "status",
        "stop_reason",
        "trigger_type",
        "is_test",
        "step_summary",
        "created_at",
        "finished_at",
    ]
    list_filter = [
        "status",
        "trigger_type",
        "is_test",
        ("workflow", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["contact__email", "workflow__name"]
    list_select_related = ["workflow", "contact"]
    readonly_fields = [
        "workflow",
        "contact",
        "status",
        "stop_reason",
        "trigger_type",
        "trigger_data",
        "booking",
        "is_test",
        "values",
        "actions",
        "error",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields
    inlines = [StepRunInline]
    actions = ["retry_failed_steps"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enrollment]:
        return super().get_queryset(request).prefetch_related("steps")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Steps")
    def step_summary(self, enrollment: Enrollment) -> str:
        steps = sorted(enrollment.steps.all(), key=lambda s: s.position)
        return (
            format_html_join(
                " → ",
                '<span class="step-status step-{}" title="{}">{}</span>',
                ((s.status, s.error or s.status, s.key) for s in steps),
            )
            or "—"
        )

    @admin.action(description="Retry the failed step")
    def retry_failed_steps(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        retried, refused = 0, 0
        failed = StepRun.objects.filter(
            enrollment__in=queryset, status=StepRun.Status.FAILED
        ).select_related("enrollment")
        for step in failed:
            try:
                services.step_run_retry(step_run=step)
                retried += 1
            except services.RetryRefused:
                refused += 1
        self.message_user(request, f"{retried} step(s) queued again.", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} could not be retried: the contact is active in a newer run.",
                messages.WARNING,
            )


from workflows import admin_home  # noqa: E402, F401  (registers the staff home box)
