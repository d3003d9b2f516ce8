"""Trigger types: their typed settings and which events they accept."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms

from calendars.models import Calendar
from config.ownership import user_sees_owner
from workflows.actions.base import ConfigForm
from workflows.models import TriggerType


class NoSettingsForm(ConfigForm):
    pass


class TagTriggerForm(ConfigForm):
    tag = forms.CharField(max_length=64, help_text="Runs when this tag is added to a contact.")

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        if not tag:
            raise forms.ValidationError("This field is required.")
        return tag


class AppointmentTriggerForm(ConfigForm):
    calendar = forms.ModelChoiceField(
        queryset=Calendar.objects.none(),
        required=False,
        help_text="Empty: appointments on any of your calendars.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_calendar_choices()


@dataclass(frozen=True)
class TriggerDefinition:
    type: str
    label: str
    form_class: type[ConfigForm]
    help_text: str = ""


TRIGGERS: dict[str, TriggerDefinition] = {
    definition.type: definition
    for definition in (
        TriggerDefinition(
            TriggerType.CONTACT_CREATED, "Contact created", NoSettingsForm, "A new contact."
        ),
        TriggerDefinition(
            TriggerType.CONTACT_TAG_ADDED,
            "Contact tag added",
            TagTriggerForm,
            "A tag is added to a contact.",
        ),
        TriggerDefinition(
            TriggerType.APPOINTMENT_BOOKED,
            "Appointment booked",
            AppointmentTriggerForm,
            "A booking is confirmed through any channel.",
        ),
        TriggerDefinition(
            TriggerType.APPOINTMENT_CANCELLED,
            "Appointment cancelled",
            AppointmentTriggerForm,
            "A booking is cancelled.",
        ),
        TriggerDefinition(
            TriggerType.INBOUND_WEBHOOK,
            "Inbound webhook",
            NoSettingsForm,
            "Another system POSTs JSON with an email to this workflow's secret URL.",
        ),
        TriggerDefinition(
            TriggerType.MANUAL,
            "Manual",
            NoSettingsForm,
            "Contacts are added by staff (admin action, API) only.",
        ),
    )
}


def trigger_matches(*, workflow, event: Mapping[str, Any]) -> bool:
    """Whether a published workflow's trigger settings accept an event's data."""
    config = workflow.trigger_config or {}
    if workflow.trigger_type == TriggerType.CONTACT_TAG_ADDED:
        return str(config.get("tag", "")).strip().lower() == str(event.get("tag", "")).lower()
    if workflow.trigger_type in (TriggerType.APPOINTMENT_BOOKED, TriggerType.APPOINTMENT_CANCELLED):
        calendar = config.get("calendar")
        if calendar not in (None, ""):
            return int(calendar) == event.get("calendar_id")
        # "Any calendar" means any the builder may use: a staff user's workflow never
        # sees the invitees of someone else's calendar.
        creator = workflow.created_by
        return creator is None or user_sees_owner(creator, event.get("calendar_owner_id"))
    return True
