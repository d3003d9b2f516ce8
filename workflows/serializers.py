from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import Contact
from workflows.models import ActionType, Enrollment, StepRun, TriggerType, Workflow
from workflows.validation import CleanWorkflow, WorkflowInvalid, validate_workflow


class TriggerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TriggerType.choices)
    config = serializers.DictField(
        required=False,
        default=dict,
        help_text=(
            "By type: contact_tag_added {tag}; contact_created {origins: [booking, api, "
            "admin, webhook, import, command]} (not given: all but booking); appointment_* "
            "{calendar, sources: [page, one_time_link, api, admin]} and, for "
            "appointment_status_changed, {statuses: [showed, no_show]}; one_time_link_* "
            "{calendar}. Lists not given: any."
        ),
    )


class ActionSerializer(serializers.Serializer):
    key = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Default: from the type."
    )
    type = serializers.ChoiceField(choices=ActionType.choices)
    config = serializers.DictField(required=False, default=dict)


@extend_schema_field(TriggerSerializer)
class TriggerField(serializers.JSONField):
    """Plain JSON in, checked as a whole by validate_workflow so that errors have one shape
    (the admin's and the API's); documented as TriggerSerializer."""


@extend_schema_field(ActionSerializer(many=True))
class ActionsField(serializers.JSONField):
    def to_representation(self, value) -> list[dict]:
        return [a.as_spec() for a in sorted(value.all(), key=lambda a: (a.position, a.pk))]


def webhook_url(workflow: Workflow) -> str:
    return settings.SITE_URL + reverse(
        "workflows:inbound-webhook", kwargs={"token": workflow.webhook_token}
    )


class WorkflowSerializer(serializers.ModelSerializer):
    """The issue's shape: {"name", "status", "trigger": {"type", "config"}, "actions":
    [{"key", "type", "config"}]}. Validation is the one the admin builder uses."""

    trigger = TriggerField()
    actions = ActionsField(required=False)
    webhook_url = serializers.SerializerMethodField(
        help_text="The secret URL for the inbound_webhook trigger (null for other triggers)."
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "status",
            "trigger",
            "actions",
            "webhook_url",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_webhook_url(self, workflow: Workflow) -> str | None:
        if workflow.trigger_type != TriggerType.INBOUND_WEBHOOK:
            return None
        return webhook_url(workflow)

    def validate(self, attrs: dict) -> dict:
        instance: Workflow | None = self.instance
        status = attrs.get("status", instance.status if instance else Workflow.Status.DRAFT)
        if "trigger" in attrs:
            trigger = attrs["trigger"]
        elif instance is not None:
            trigger = {"type": instance.trigger_type, "config": instance.trigger_config}
        else:
            raise serializers.ValidationError({"trigger": ["This field is required."]})
        if "actions" in attrs:
            actions = attrs["actions"]
        elif instance is not None:
            actions = [a.as_spec() for a in instance.actions.order_by("position", "id")]
        else:
            actions = []
        try:
            attrs["clean"] = validate_workflow(
                status=status, trigger=trigger, actions=actions, user=self.context["request"].user
            )
        except WorkflowInvalid as exc:
            raise serializers.ValidationError(exc.errors) from exc
        attrs["status"] = status
        return attrs

    def service_data(self) -> dict:
        data = self.validated_data
        clean: CleanWorkflow = data["clean"]
        name = data.get("name", self.instance.name if self.instance else "")
        return {"name": name, "status": data["status"], "clean": clean}


class EnrollRequestSerializer(serializers.Serializer):
    # Narrowed to the workflow's contacts (services.workflow_contacts) by the view.
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.none())


class StepRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepRun
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
            "finished_at",
        ]


class EnrollmentSerializer(serializers.ModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(read_only=True)
    contact_email = serializers.EmailField(source="contact.email", read_only=True)
    steps = StepRunSerializer(many=True, read_only=True)
    booking = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The appointment an appointment trigger enrolled for."
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "contact",
            "contact_email",
            "status",
            "trigger_type",
            "trigger_data",
            "is_test",
            "values",
            "error",
            "created_at",
            "finished_at",
            "steps",
            "booking",
            "stop_reason",
        ]


class InboundWebhookSerializer(serializers.Serializer):
    """Documents the inbound webhook body; other fields are kept as trigger data."""

    email = serializers.EmailField()
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)


class InboundWebhookResponseSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    enrolled = serializers.BooleanField()
