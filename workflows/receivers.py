"""Triggers: receivers of contacts' and bookings' signals, connected in apps.ready() so that
neither of those apps imports workflows (a cancellation also stops, and a reschedule moves,
the runs of the appointment: workflows/lifecycle.py).

The signals are sent after commit from inside the sender's request or task. A receiver
must never raise there (the booking is already saved); a failure is logged instead.
"""

import logging
from collections.abc import Callable

from bookings import signals as booking_signals
from bookings.models import Booking, OneTimeLink
from contacts.signals import contact_created, contact_tag_added
from workflows import lifecycle
from workflows.appointments import source_of
from workflows.models import TriggerType
from workflows.services import workflows_trigger

logger = logging.getLogger(__name__)


def _fire(trigger_type: str, contact_id: int | None, event: dict | Callable[[], dict]) -> None:
    try:
        workflows_trigger(trigger_type=trigger_type, contact_id=contact_id, event=event)
    except Exception:
        logger.exception("Workflow trigger %s failed for contact %s", trigger_type, contact_id)


def on_contact_created(sender, contact_id: int, origin: str = "", **kwargs) -> None:
    _fire(TriggerType.CONTACT_CREATED, contact_id, {"origin": origin})


def on_contact_tag_added(sender, contact_id: int, tag_name: str, **kwargs) -> None:
    _fire(TriggerType.CONTACT_TAG_ADDED, contact_id, {"tag": tag_name})


def _booking_event(booking_id: int, calendar_id: int, **extra) -> Callable[[], dict]:
    # Built only when a published workflow listens: the lookup is a query that the usual
    # booking (no workflow) should not pay for.
    def build() -> dict:
        row = (
            Booking.objects.filter(pk=booking_id).values("source", "calendar__owner_id").first()
            or {}
        )
        return {
            "booking_id": booking_id,
            "calendar_id": calendar_id,
            "calendar_owner_id": row.get("calendar__owner_id"),
            "source": source_of(row.get("source", "")),
            **extra,
        }

    return build


def _link_event(link_id: int, calendar_id: int) -> Callable[[], dict]:
    def build() -> dict:
        owner_id = (
            OneTimeLink.objects.filter(pk=link_id)
            .values_list("calendar__owner_id", flat=True)
            .first()
        )
        return {"link_id": link_id, "calendar_id": calendar_id, "calendar_owner_id": owner_id}

    return build


def _safely(what: str, booking_id: int, work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:
        logger.exception("Workflows could not %s for booking %s", what, booking_id)


def on_booking_confirmed(
    sender, booking_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    _fire(TriggerType.APPOINTMENT_BOOKED, contact_id, _booking_event(booking_id, calendar_id))


def on_booking_cancelled(
    sender, booking_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    # Stop first: the cancellation's own workflows are left alone either way.
    _safely(
        "stop the runs",
        booking_id,
        lambda: lifecycle.appointment_enrollments_stop(booking_id=booking_id),
    )
    _fire(TriggerType.APPOINTMENT_CANCELLED, contact_id, _booking_event(booking_id, calendar_id))


def on_booking_rescheduled(
    sender, booking_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    _safely(
        "move the waits",
        booking_id,
        lambda: lifecycle.appointment_waits_move(booking_id=booking_id),
    )
    _fire(TriggerType.APPOINTMENT_RESCHEDULED, contact_id, _booking_event(booking_id, calendar_id))


def on_booking_status_changed(
    sender, booking_id: int, calendar_id: int, contact_id: int | None, status: str, **kwargs
) -> None:
    event = _booking_event(booking_id, calendar_id, status=status)
    _fire(TriggerType.APPOINTMENT_STATUS_CHANGED, contact_id, event)


def on_link_expired_unused(
    sender, link_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    _fire(TriggerType.ONE_TIME_LINK_EXPIRED_UNUSED, contact_id, _link_event(link_id, calendar_id))


def on_link_renewal_requested(
    sender, link_id: int, calendar_id: int, contact_id: int | None, **kwargs
) -> None:
    _fire(
        TriggerType.ONE_TIME_LINK_RENEWAL_REQUESTED, contact_id, _link_event(link_id, calendar_id)
    )


def connect() -> None:
    contact_created.connect(on_contact_created, dispatch_uid="workflows.contact_created")
    contact_tag_added.connect(on_contact_tag_added, dispatch_uid="workflows.contact_tag_added")
    for signal, receiver in (
        (booking_signals.booking_confirmed, on_booking_confirmed),
        (booking_signals.booking_cancelled, on_booking_cancelled),
        (booking_signals.booking_rescheduled, on_booking_rescheduled),
        (booking_signals.booking_status_changed, on_booking_status_changed),
        (booking_signals.one_time_link_expired_unused, on_link_expired_unused),
        (booking_signals.one_time_link_renewal_requested, on_link_renewal_requested),
    ):
        signal.connect(receiver, dispatch_uid=f"workflows.{receiver.__name__}")
