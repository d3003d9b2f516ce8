"""Trigger types: their typed settings and which events they accept."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms

from calendars.models import Calendar
from config.ownership import user_sees_owner
from contacts.models import Contact
from workflows.actions.base import ConfigForm
from workflows.appointments import APPOINTMENT_TRIGGERS, SOURCE_LABELS
from workflows.models import TriggerType

# What a contact_created workflow accepts unless its builder says otherwise: every origin
# but a booking, so an invitee who just booked does not enter "new lead" workflows.
DEFAULT_ORIGINS = tuple(o for o in Contact.Origin.values if o != Contact.Origin.BOOKING)
STATUSES = {"showed": "Showed", "no_show": "No-show"}
LINK_TRIGGERS = frozenset(
    {TriggerType.ONE_TIME_LINK_EXPIRED_UNUSED, TriggerType.ONE_TIME_LINK_RENEWAL_REQUESTED}
)


class NoSettingsForm(ConfigForm):
    pass


class TagTriggerForm(ConfigForm):
    tag = forms.CharField(max_length=64, help_text="Runs when this tag is added to a contact.")

    def clean_tag(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        if not tag:
            raise forms.ValidationError("This field is required.")
        return tag


class ContactCreatedForm(ConfigForm):
    origins = forms.MultipleChoiceField(
        required=False,
        choices=Contact.Origin.choices,
        initial=list(DEFAULT_ORIGINS),
        widget=forms.CheckboxSelectMultiple,
        help_text="How the contact came in. Not given: every origin but a booking.",
    )

    def clean_origins(self) -> list[str]:
        # Not given: stored as nothing, which means DEFAULT_ORIGINS (trigger_matches).
        origins = self.cleaned_data["origins"]
        if not origins and self.data.get("origins") is not None:
            raise forms.ValidationError("Choose at least one origin.")
        return origins


class CalendarTriggerForm(ConfigForm):
    calendar = forms.ModelChoiceField(
        queryset=Calendar.objects.none(),
        required=False,
        help_text="Empty: any of your calendars.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limit_calendar_choices()


class AppointmentTriggerForm(CalendarTriggerForm):
    sources = forms.MultipleChoiceField(
        required=False,
        choices=list(SOURCE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text="How it was booked. None ticked: any way.",
    )


class AppointmentStatusTriggerForm(AppointmentTriggerForm):
    statuses = forms.MultipleChoiceField(
        required=False,
        choices=list(STATUSES.items()),
        widget=forms.CheckboxSelectMultiple,
        help_text="The status staff marked. None ticked: either.",
    )


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
            TriggerType.CONTACT_CREATED,
            "Contact created",
            ContactCreatedForm,
            "A new contact, by the way it came in (not bookers, unless ticked).",
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
            TriggerType.APPOINTMENT_RESCHEDULED,
            "Appointment rescheduled",
            AppointmentTriggerForm,
            "A booking is moved to another time.",
        ),
        TriggerDefinition(
            TriggerType.APPOINTMENT_STATUS_CHANGED,
            "Appointment status changed",
            AppointmentStatusTriggerForm,
            "Staff mark a booking showed or no-show.",
        ),
        TriggerDefinition(
            TriggerType.ONE_TIME_LINK_EXPIRED_UNUSED,
            "One-time link expired unused",
            CalendarTriggerForm,
            "A contact's one-time link expired without a booking (e.g. send a fresh one).",
        ),
        TriggerDefinition(
            TriggerType.ONE_TIME_LINK_RENEWAL_REQUESTED,
            "One-time link renewal requested",
            CalendarTriggerForm,
            "A contact asked for a new link on an expired link's page.",
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
    if workflow.trigger_type == TriggerType.CONTACT_CREATED:
        return event.get("origin") in (config.get("origins") or DEFAULT_ORIGINS)
    if workflow.trigger_type in APPOINTMENT_TRIGGERS | LINK_TRIGGERS:
        sources = config.get("sources")
        if sources and event.get("source") not in sources:
            return False
        statuses = config.get("statuses")
        if statuses and event.get("status") not in statuses:
            return False
        return _calendar_matches(workflow, config, event)
    return True


def _calendar_matches(workflow, config: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    calendar = config.get("calendar")
    if calendar not in (None, ""):
        return int(calendar) == event.get("calendar_id")
    # "Any calendar" means any the builder may use: a staff user's workflow never
    # sees the invitees of someone else's calendar.
    creator = workflow.created_by
    return creator is None or user_sees_owner(creator, event.get("calendar_owner_id"))
