from django.conf import settings
from django.db import models
from django.utils import timezone

from config import tokens
from config.ownership import OwnedQuerySet
from config.text import validate_single_line


class TriggerType(models.TextChoices):
    CONTACT_CREATED = "contact_created", "Contact created"
    CONTACT_TAG_ADDED = "contact_tag_added", "Contact tag added"
    APPOINTMENT_BOOKED = "appointment_booked", "Appointment booked"
    APPOINTMENT_CANCELLED = "appointment_cancelled", "Appointment cancelled"
    APPOINTMENT_RESCHEDULED = "appointment_rescheduled", "Appointment rescheduled"
    APPOINTMENT_STATUS_CHANGED = "appointment_status_changed", "Appointment status changed"
    ONE_TIME_LINK_EXPIRED_UNUSED = "one_time_link_expired_unused", "One-time link expired unused"
    ONE_TIME_LINK_RENEWAL_REQUESTED = (
        "one_time_link_renewal_requested",
        "One-time link renewal requested",
    )
    INBOUND_WEBHOOK = "inbound_webhook", "Inbound webhook"
    MANUAL = "manual", "Manual (admin action or API)"


# The triggers about one appointment; their runs keep the booking (Enrollment.booking).
APPOINTMENT_TRIGGER_TYPES = (
    TriggerType.APPOINTMENT_BOOKED,
    TriggerType.APPOINTMENT_CANCELLED,
    TriggerType.APPOINTMENT_RESCHEDULED,
    TriggerType.APPOINTMENT_STATUS_CHANGED,
)


class ActionType(models.TextChoices):
    GENERATE_ONE_TIME_LINK = "generate_one_time_link", "Generate One-Time Booking Link"
    SEND_EMAIL = "send_email", "Send Email"
    WAIT = "wait", "Wait"
    ADD_TAG = "add_tag", "Add tag"
    REMOVE_TAG = "remove_tag", "Remove tag"
    SEND_WEBHOOK = "send_webhook", "Send webhook"


class WorkflowQuerySet(OwnedQuerySet):
    owner_path = "created_by"


class WorkflowPartQuerySet(OwnedQuerySet):
    owner_path = "workflow__created_by"


class Workflow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"

    WEBHOOK_TOKEN_PURPOSE = "workflow-webhook"  # noqa: S105 (a salt, not a password)

    name = models.CharField(max_length=200, validators=[validate_single_line])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    trigger_type = models.CharField(
        max_length=32, choices=TriggerType.choices, default=TriggerType.MANUAL
    )
    # Validated by the trigger's config form (workflows/triggers.py); ids, never objects.
    trigger_config = models.JSONField(default=dict, blank=True)
    # The inbound-webhook URL is /hooks/<locator><mac>/: the mac is an HMAC of these two
    # under SECRET_KEY, so the database holds nothing usable as the URL while the owner can
    # still be shown it. A new nonce rotates the secret.
    webhook_locator = models.CharField(
        max_length=16, unique=True, default=tokens.new_locator, editable=False
    )
    webhook_nonce = models.CharField(max_length=32, default=tokens.new_nonce, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="workflows",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkflowQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["trigger_type", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def trigger(self) -> dict:
        return {"type": self.trigger_type, "config": self.trigger_config}

    @property
    def webhook_token(self) -> str:
        return tokens.make_token(
            purpose=self.WEBHOOK_TOKEN_PURPOSE,
            locator=self.webhook_locator,
            nonce=self.webhook_nonce,
        )


class WorkflowAction(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField(default=0)
    key = models.CharField(
        max_length=40,
        help_text="Names this action's outputs in custom values, e.g. {{ link.url }}.",
    )
    type = models.CharField(max_length=32, choices=ActionType.choices)
    # Validated by the action type's config form (workflows/actions/<type>.py).
    config = models.JSONField(default=dict, blank=True)

    objects = WorkflowPartQuerySet.as_manager()

    class Meta:
        ordering = ["workflow", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "key"], name="workflow_action_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.get_type_display()} ({self.key})"

    def as_spec(self) -> dict:
        return {"key": self.key, "type": self.type, "config": self.config}


class Enrollment(models.Model):
    """One contact's pass through one workflow.

    `actions` is a copy of the workflow's actions when the contact entered: editing a
    published workflow changes what new contacts get, while contacts already inside finish
    the steps they started with.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"
        FAILED = "failed"
        STOPPED = "stopped"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="enrollments"
    )
    trigger_type = models.CharField(max_length=32, choices=TriggerType.choices)
    trigger_data = models.JSONField(default=dict, blank=True)
    # The appointment an appointment trigger enrolled for: its values fill
    # {{ appointment.* }}, its times anchor relative waits, cancelling it stops this run.
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_test = models.BooleanField(default=False, help_text="Started by the admin's Test run.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # {"<action key>": {"<output>": "<text>"}}: the custom values produced so far.
    values = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, help_text="The workflow's actions at enrollment.")
    error = models.TextField(blank=True)
    # Why a run was stopped before its end, e.g. "appointment cancelled".
    stop_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkflowPartQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The same trigger firing again (e.g. a tag action re-adding a tag) must not
            # enroll a contact who is still inside: no loops, no duplicate emails.
            models.UniqueConstraint(
                fields=["workflow", "contact"],
                # Appointment runs left without their booking (a superuser deleted it) are
                # not in it: several may stay active, and the deletion must not fail.
                condition=models.Q(status="active", booking__isnull=True)
                & ~models.Q(trigger_type__in=APPOINTMENT_TRIGGER_TYPES),
                name="enrollment_one_active_per_contact",
            ),
            # A run about an appointment is one per appointment: a contact with two
            # bookings gets a reminder for each.
            models.UniqueConstraint(
                fields=["workflow", "contact", "booking"],
                condition=models.Q(status="active", booking__isnull=False),
                name="enrollment_one_active_per_booking",
            ),
        ]
        indexes = [
            models.Index(
                fields=["booking"],
                name="enrollment_active_booking",
                condition=models.Q(status="active", booking__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.workflow} ({self.status})"


class StepRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        # Never ran or never finished waiting: its enrollment was stopped.
        CANCELLED = "cancelled"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    key = models.CharField(max_length=40)
    type = models.CharField(max_length=32, choices=ActionType.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # For a waiting step, when the wait ends; for a queued retry, when it may run again.
    due_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="The first attempt.")
    # The latest claim (its token: only that claim may record the outcome) and when its
    # lease ends: a running step whose lease ran out lost its worker and is free again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["enrollment", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "position"], name="step_run_one_per_position"
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["status", "queued_at"]),
            models.Index(fields=["status", "lease_until"]),
        ]

    def __str__(self) -> str:
        return f"Step {self.position + 1} ({self.key}) · {self.status}"
