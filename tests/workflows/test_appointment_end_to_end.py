"""Workflows around the appointment on a real Celery worker (subprocess, Redis) and a real
SMTP server: the reminder "10 minutes before" an appointment booked 12 minutes ahead, moved
by a reschedule, stopped by a cancel; the no-show workflow; the fallback; bookers kept out
of "contact created"; an unused link's expiry reported once.

The due times are real (the appointment is booked ahead of the real now, so the worker's
clock agrees); the beat that releases waits is played by the test, calling the release at
the due time through time-machine instead of waiting the minutes out. Time-machine moves
this process only, never the worker."""

import math
from datetime import time, timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking, OneTimeLink
from bookings.services.bookings import booking_reschedule
from bookings.tasks import report_expired_links
from calendars.models import WeeklyInterval
from contacts.models import Contact
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.celery_worker import wait_until
from tests.contacts.factories import ContactFactory
from tests.workflows.support import make_workflow
from workflows.models import Enrollment, StepRun
from workflows.services import waits_release

pytestmark = [pytest.mark.redis, pytest.mark.smtp, pytest.mark.postgres]

REMINDER_SUBJECT = "Reminder: {{ appointment.calendar_name }} at {{ appointment.start_time }}"
REMINDER_BODY = (
    'Hi {{ contact.first_name | default: "there" }}, your appointment starts '
    "{{ appointment.start_time }}. Reschedule: {{ appointment.reschedule_url }}"
)
REMINDER = [
    {
        "key": "wait",
        "type": "wait",
        "config": {
            "amount": 10,
            "unit": "minutes",
            "relative_to": "appointment_start",
            "direction": "before",
        },
    },
    {
        "key": "email",
        "type": "send_email",
        "config": {"subject": REMINDER_SUBJECT, "body": REMINDER_BODY},
    },
]


@pytest.fixture
def owner():
    return UserFactory(first_name="Rosa", last_name="Owner")


@pytest.fixture
def calendar(owner):
    calendar = CalendarFactory(
        owner=owner, name="Intro call", duration_minutes=15, slot_interval_minutes=5, hours=[]
    )
    WeeklyInterval.objects.bulk_create(
        WeeklyInterval(calendar=calendar, weekday=day, start=time(0), end=time(23, 59))
        for day in range(7)
    )
    return calendar


def slot_after(minutes: int):
    """The first 5-minute slot start at least `minutes` from the real now."""
    at = timezone.now() + timedelta(minutes=minutes)
    epoch = at.timestamp()
    return at.fromtimestamp(math.ceil(epoch / 300) * 300, tz=at.tzinfo)


def book(calendar, start, *, email="ana@example.com", name="Ana Lima") -> Booking:
    response = APIClient().post(
        f"/api/public/calendars/{calendar.slug}/bookings/",
        {"start": start.isoformat(), "name": name, "email": email, "timezone": "Europe/Berlin"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return Booking.objects.get(start=start)


def reminders(smtp_server):
    return [m for m in smtp_server.messages if m["Subject"].startswith("Reminder:")]


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def parked(worker) -> StepRun:
    return wait_until(
        lambda: StepRun.objects.filter(position=0, status="waiting").first(),
        what="the wait to park",
        worker=worker,
    )


def release_at(moment) -> int:
    """What beat's release_due_waits does at `moment`."""
    with time_machine.travel(moment, tick=False):
        return waits_release()


def local(moment) -> str:
    from workflows.appointments import format_time

    return format_time(moment, "Europe/Berlin")


def test_it_sends_the_reminder_ten_minutes_before_with_the_appointments_values(
    smtp_server, celery_worker, calendar, owner
):
    make_workflow(
        user=owner, trigger={"type": "appointment_booked", "config": {}}, actions=REMINDER
    )
    start = slot_after(12)
    booking = book(calendar, start)

    step = parked(celery_worker)
    assert step.due_at == start - timedelta(minutes=10)
    assert release_at(step.due_at - timedelta(seconds=1)) == 0
    assert release_at(step.due_at) == 1

    wait_until(lambda: reminders(smtp_server), what="the reminder", worker=celery_worker)
    [message] = reminders(smtp_server)
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == f"Reminder: Intro call at {local(start)}"
    assert body_of(message).strip() == (
        f"Hi Ana, your appointment starts {local(start)}. "
        f"Reschedule: http://testserver/b/{booking.token}/reschedule/"
    )
    enrollment = Enrollment.objects.get()
    wait_until(
        lambda: Enrollment.objects.filter(pk=enrollment.pk, status="completed").exists(),
        what="the run to complete",
        worker=celery_worker,
    )


def test_it_moves_the_reminder_with_a_reschedule(smtp_server, celery_worker, calendar, owner):
    make_workflow(
        user=owner, trigger={"type": "appointment_booked", "config": {}}, actions=REMINDER
    )
    start = slot_after(12)
    booking = book(calendar, start)
    old_due = parked(celery_worker).due_at
    new_start = start + timedelta(hours=2)

    booking_reschedule(booking=booking, start=new_start)

    step = StepRun.objects.get(position=0)
    assert (step.status, step.due_at) == ("waiting", new_start - timedelta(minutes=10))
    assert release_at(old_due) == 0
    assert release_at(step.due_at) == 1
    wait_until(lambda: reminders(smtp_server), what="the reminder", worker=celery_worker)
    assert local(new_start) in body_of(reminders(smtp_server)[0])


def test_it_stops_the_reminder_when_the_appointment_is_cancelled(
    smtp_server, celery_worker, calendar, owner
):
    make_workflow(
        user=owner, trigger={"type": "appointment_booked", "config": {}}, actions=REMINDER
    )
    start = slot_after(12)
    booking = book(calendar, start)
    step = parked(celery_worker)
    staff = APIClient()
    staff.force_authenticate(owner)

    response = staff.post(f"/api/bookings/{booking.pk}/cancel/", {}, format="json")

    assert response.status_code == 200
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "appointment cancelled")
    step.refresh_from_db()
    assert step.status == "cancelled"
    assert release_at(step.due_at) == 0
    # The cancellation emails went through the same worker: the queue is drained.
    wait_until(
        lambda: any("ancel" in m["Subject"] for m in smtp_server.messages),
        what="the cancellation email",
        worker=celery_worker,
    )
    assert reminders(smtp_server) == []
    assert StepRun.objects.count() == 1


def test_it_starts_the_no_show_workflow_with_the_fallback(smtp_server, celery_worker, calendar):
    owner = calendar.owner
    make_workflow(
        user=owner,
        trigger={"type": "appointment_status_changed", "config": {"statuses": ["no_show"]}},
        actions=[
            {
                "type": "send_email",
                "config": {
                    "subject": "We missed you",
                    "body": 'Hi {{ contact.first_name | default: "there" }}, book again with '
                    "{{ appointment.owner_name }}: status {{ appointment.status }}.",
                },
            }
        ],
    )
    contact = ContactFactory(owner=owner, first_name="", email="sam@example.com")
    booking = BookingFactory(
        calendar=calendar,
        contact=contact,
        invitee_email=contact.email,
        start=timezone.now() - timedelta(minutes=20),
    )
    staff = APIClient()
    staff.force_authenticate(owner)

    response = staff.post(f"/api/bookings/{booking.pk}/status/", {"status": "no_show"})

    assert response.status_code == 200
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "sam@example.com"
    assert body_of(message).strip() == "Hi there, book again with Rosa Owner: status no_show."


def test_it_keeps_a_booker_out_of_a_default_contact_created_workflow(
    smtp_server, celery_worker, calendar, owner
):
    make_workflow(
        user=owner,
        trigger={"type": "contact_created", "config": {}},
        actions=[{"type": "send_email", "config": {"subject": "Welcome", "body": "Hello!"}}],
    )
    book(calendar, slot_after(60))
    staff = APIClient()
    staff.force_authenticate(owner)
    created = staff.post("/api/contacts/", {"email": "lead@example.com"}, format="json")
    assert created.status_code == 201

    wait_until(
        lambda: [m for m in smtp_server.messages if m["Subject"] == "Welcome"],
        what="the welcome email",
        worker=celery_worker,
    )
    welcomed = [m["To"] for m in smtp_server.messages if m["Subject"] == "Welcome"]
    assert welcomed == ["lead@example.com"]
    assert Contact.objects.get(email="ana@example.com").origin == "booking"
    assert list(Enrollment.objects.values_list("contact__email", flat=True)) == ["lead@example.com"]


def test_it_fires_the_expired_unused_trigger_once(smtp_server, celery_worker, calendar, owner):
    make_workflow(
        user=owner,
        trigger={"type": "one_time_link_expired_unused", "config": {"calendar": calendar.pk}},
        actions=[
            {"type": "send_email", "config": {"subject": "Your link expired", "body": "Sorry."}}
        ],
    )
    contact = ContactFactory(owner=calendar.owner, email="late@example.com")
    link = OneTimeLinkFactory(
        calendar=calendar, contact=contact, expires_at=timezone.now() - timedelta(seconds=1)
    )

    for _ in range(3):  # beat's task, three times (and racing on two worker threads)
        report_expired_links.delay()

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "late@example.com"
    link.refresh_from_db()
    assert link.expiry_reported is True
    wait_until(
        lambda: Enrollment.objects.filter(status="completed").exists(),
        what="the run",
        worker=celery_worker,
    )
    assert Enrollment.objects.count() == 1
    assert OneTimeLink.objects.filter(expiry_reported=True).count() == 1
