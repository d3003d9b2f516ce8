"""Triggers: receivers of contacts' and bookings' signals, connected in apps.ready() so that
neither of those apps imports workflows.

The signals are sent after commit from inside the sender's request or task. A receiver
must never raise there (the booking is already saved); a failure is logged instead.
"""

import logging
from collections.abc import Callable

from bookings.signals import booking_cancelled, booking_confirmed
from calendars.models import Calendar
from contacts.signals import contact_created, contact_tag_added
from workflows.models import TriggerType
from workflows.services import workflows_trigger

logger = logging.getLogger(__name__)


def _fire(trigger_type: str, contact_id: int | None, event: dict | Callable[[], dict]) -> None:
    try:
        workflows_trigger(trigger_type=trigger_type, contact_id=contact_id, event=event)
    except Exception:
        logger.exception("Workflow trigger %s failed for contact %s", trigger_type, contact_id)


def on_contact_created(sender, contact_id: int, **kwargs) -> None:
    _fire(TriggerType.CONTACT_CREATED, contact_id, {})


def on_contact_tag_added(sender, contact_id: int, tag_name: str, **kwargs) -> None:
    _fire(TriggerType.CONTACT_TAG_ADDED, contact_id, {"tag": tag_name})


def _booking_event(booking_id: int, calendar_id: int, **extra) -> Callable[[], dict]:
    # Built only when a published workflow listens: the owner lookup is a query that the
    # usual booking (no workflow) should not pay for.
    def build() -> dict:
        owner_id = (
            Calendar.objects.filter(pk=calendar_id).values_list("owner_id", flat=True).first()
        )
        return {
            "booking_id": booking_id,
            "calendar_id": calendar_id,
            "calendar_owner_id": owner_id,
            **extra,
        }

    return build


def on_booking_confirmed(
    sender, booking_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    event = _booking_event(booking_id, calendar_id, source=kwargs.get("source", ""))
    _fire(TriggerType.APPOINTMENT_BOOKED, contact_id, event)


def on_booking_cancelled(
    sender, booking_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    _fire(TriggerType.APPOINTMENT_CANCELLED, contact_id, _booking_event(booking_id, calendar_id))


def connect() -> None:
    contact_created.connect(on_contact_created, dispatch_uid="workflows.contact_created")
    contact_tag_added.connect(on_contact_tag_added, dispatch_uid="workflows.contact_tag_added")
    booking_confirmed.connect(on_booking_confirmed, dispatch_uid="workflows.booking_confirmed")
    booking_cancelled.connect(on_booking_cancelled, dispatch_uid="workflows.booking_cancelled")
