"""Workflows around the appointment, through the services (the worker's part is run inline
by run_queued): appointment values, relative waits, cancel and reschedule, the new triggers
and their filters, contact origins, Send Email to the owner."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from bookings import signals as booking_signals
from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services.attendance import booking_attendance_mark
from bookings.services.bookings import booking_cancel, booking_create, booking_reschedule
from config.signals import send_on_commit
from contacts.models import Contact
from contacts.services import contact_create
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import make_workflow, run_queued
from workflows.models import Enrollment, StepRun, TriggerType
from workflows.services import waits_release
from workflows.validation import WorkflowInvalid

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
SLOT = datetime(2030, 1, 8, 13, 30, tzinfo=UTC)  # Tuesday 14:30 in Berlin
LATER_SLOT = datetime(2030, 1, 9, 10, 0, tzinfo=UTC)
TAG = [{"key": "tag", "type": "add_tag", "config": {"tag": "entered"}}]
REMINDER_BODY = (
    'Hi {{ contact.first_name | default: "there" }}, see you {{ appointment.start_time }} '
    "({{ appointment.calendar_name }} with {{ appointment.owner_name }}). "
    "Move it: {{ appointment.reschedule_url }} Cancel: {{ appointment.cancel_url }} "
    "Calendar file: {{ appointment.ics_url }} Status: {{ appointment.status }}"
)


def reminder_actions(*, amount=10, unit="minutes", if_past=None, to=None):
    wait = {
        "amount": amount,
        "unit": unit,
        "relative_to": "appointment_start",
        "direction": "before",
    }
    if if_past:
        wait["if_past"] = if_past
    email = {"subject": "Reminder: {{ appointment.start_date }}", "body": REMINDER_BODY}
    if to is not None:
        email["to"] = to
    return [
        {"key": "wait", "type": "wait", "config": wait},
        {"key": "email", "type": "send_email", "config": email},
    ]


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner():
    return UserFactory(first_name="Rosa", last_name="Owner", email="rosa@example.com")


@pytest.fixture
def calendar(owner):
    return CalendarFactory(owner=owner, name="Intro call", timezone="Europe/Berlin", hours=[])


@pytest.fixture(autouse=True)
def open_all_week(calendar):
    from datetime import time

    from calendars.models import WeeklyInterval

    WeeklyInterval.objects.bulk_create(
        WeeklyInterval(calendar=calendar, weekday=day, start=time(0), end=time(23, 30))
        for day in range(7)
    )


def workflow_on(trigger_type, config=None, *, user, actions=TAG, name="Flow"):
    return make_workflow(
        user=user,
        trigger={"type": trigger_type, "config": config or {}},
        actions=actions,
        name=name,
    )


def book(calendar, *, start=SLOT, email="ana@example.com", source=BookingSource.API):
    return booking_create(
        calendar=calendar,
        start=start,
        name="Ana Lima",
        email=email,
        timezone="Europe/Berlin",
        source=source,
    )


def sent_to(address):
    return [m for m in mail.outbox if address in m.to]


# ------------------------------------------------------------------ appointment values


def test_it_sends_the_reminder_with_the_appointments_values(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        booking = book(calendar)
    run_queued()
    assert mail.outbox == []

    with time_machine.travel(SLOT - timedelta(minutes=10), tick=False), on_commit():
        assert waits_release() == 1
        run_queued()

    [message] = sent_to("ana@example.com")
    links = booking_links_of(booking)
    assert message.subject == "Reminder: Tuesday 8 January 2030"
    assert message.body == (
        "Hi Ana, see you Tuesday 8 January 2030, 14:30 (Europe/Berlin) (Intro call with "
        f"Rosa Owner). Move it: {links['reschedule']} Cancel: {links['cancel']} "
        f"Calendar file: {links['ics']} Status: confirmed"
    )
    assert links["cancel"].startswith("http://testserver/b/")


def booking_links_of(booking):
    from bookings.ics import booking_links

    return booking_links(booking=Booking.objects.get(pk=booking.pk))


def test_it_never_stores_the_appointments_secret_urls(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        booking = book(calendar)
    run_queued()
    with time_machine.travel(SLOT - timedelta(minutes=10), tick=False), on_commit():
        waits_release()
        run_queued()

    from bookings.models import OutboxMessage

    row = OutboxMessage.objects.get(key__startswith="steprun:")
    assert booking.token not in str(row.context) + row.subject + row.body_text
    enrollment = Enrollment.objects.get()
    assert booking.token not in str(enrollment.values) + str(enrollment.trigger_data)


def test_it_refuses_appointment_values_in_a_workflow_without_an_appointment(owner):
    with pytest.raises(WorkflowInvalid) as excinfo:
        workflow_on(TriggerType.CONTACT_CREATED, user=owner, actions=reminder_actions()[1:])
    errors = excinfo.value.errors["actions"][0]["config"]["body"]
    assert "“appointment”, which is not the contact or an earlier action" in errors[0]


def test_it_refuses_a_relative_wait_in_a_workflow_without_an_appointment(owner):
    with pytest.raises(WorkflowInvalid) as excinfo:
        workflow_on(TriggerType.MANUAL, user=owner, actions=reminder_actions()[:1])
    assert "relative_to" in excinfo.value.errors["actions"][0]["config"]


def test_it_refuses_a_relative_wait_without_a_direction(owner):
    actions = [
        {"type": "wait", "config": {"amount": 1, "unit": "hours", "relative_to": "appointment_end"}}
    ]
    with pytest.raises(WorkflowInvalid) as excinfo:
        workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=actions)
    assert "direction" in excinfo.value.errors["actions"][0]["config"]


def test_it_keeps_the_plain_wait_working(on_commit, owner):
    actions = [{"type": "wait", "config": {"amount": 2, "unit": "hours"}}, *TAG]
    workflow = workflow_on(TriggerType.MANUAL, user=owner, actions=actions)
    from workflows.services import enrollment_start_manual

    with on_commit():
        enrollment_start_manual(workflow=workflow, contact=ContactFactory(owner=owner))
    run_queued()

    assert StepRun.objects.get(position=0).due_at == NOW + timedelta(hours=2)


# ------------------------------------------------------------------------ relative waits


def test_it_parks_the_wait_until_the_time_before_the_appointment(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        book(calendar)

    assert run_queued() == ["waiting"]
    assert StepRun.objects.get(position=0).due_at == SLOT - timedelta(minutes=10)


def test_it_counts_from_the_appointments_end_after_it(on_commit, calendar, owner):
    actions = [
        {
            "type": "wait",
            "config": {
                "amount": 1,
                "unit": "days",
                "relative_to": "appointment_end",
                "direction": "after",
            },
        },
        *TAG,
    ]
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=actions)
    with on_commit():
        booking = book(calendar)
    run_queued()

    assert StepRun.objects.get(position=0).due_at == booking.end + timedelta(days=1)


def test_it_continues_at_once_when_the_moment_has_passed(on_commit, calendar, owner):
    workflow_on(
        TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions(amount=2, unit="days")
    )
    with on_commit():
        book(calendar)

    with on_commit():
        outcomes = run_queued()

    assert outcomes == ["succeeded", "succeeded"]
    assert len(sent_to("ana@example.com")) == 1


def test_it_stops_when_the_moment_has_passed_and_the_builder_said_stop(on_commit, calendar, owner):
    actions = reminder_actions(amount=2, unit="days", if_past="stop")
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=actions)
    with on_commit():
        book(calendar)

    assert run_queued() == ["stopped"]

    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.stop_reason) == (
        "stopped",
        "the appointment time had passed",
    )
    assert StepRun.objects.count() == 1
    assert sent_to("ana@example.com") == []


# ------------------------------------------------------------------- reschedule, cancel


def test_it_moves_the_parked_reminder_when_the_appointment_is_rescheduled(
    on_commit, calendar, owner
):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        booking = book(calendar)
    run_queued()

    with on_commit():
        booking_reschedule(booking=booking, start=LATER_SLOT)

    step = StepRun.objects.get(position=0)
    assert (step.status, step.due_at) == ("waiting", LATER_SLOT - timedelta(minutes=10))
    with time_machine.travel(SLOT - timedelta(minutes=10), tick=False):
        assert waits_release() == 0
    with time_machine.travel(LATER_SLOT - timedelta(minutes=10), tick=False), on_commit():
        assert waits_release() == 1
        run_queued()
    [message] = sent_to("ana@example.com")
    assert "Wednesday 9 January 2030, 11:00 (Europe/Berlin)" in message.body


def test_it_stops_a_moved_reminder_now_past_when_the_builder_said_stop(on_commit, calendar, owner):
    workflow_on(
        TriggerType.APPOINTMENT_BOOKED,
        user=owner,
        actions=reminder_actions(amount=1, unit="hours", if_past="stop"),
    )
    with on_commit():
        booking = book(calendar)
    run_queued()

    with on_commit():
        booking_reschedule(booking=booking, start=NOW + timedelta(minutes=30))

    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.stop_reason) == (
        "stopped",
        "the appointment time had passed",
    )
    assert StepRun.objects.get(position=0).status == "cancelled"


def test_it_stops_the_appointments_runs_when_it_is_cancelled(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        booking = book(calendar)
    run_queued()

    with on_commit():
        booking_cancel(booking=booking)

    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "appointment cancelled")
    assert StepRun.objects.get(position=0).status == "cancelled"
    with time_machine.travel(SLOT - timedelta(minutes=10), tick=False), on_commit():
        assert waits_release() == 0
        assert run_queued() == []
    assert sent_to("ana@example.com") == []


def test_it_cancels_a_queued_step_of_a_stopped_run_instead_of_running_it(
    on_commit, calendar, owner
):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=TAG)
    with on_commit():
        booking = book(calendar)
    from workflows.lifecycle import enrollments_stop
    from workflows.services import step_run_execute

    step = StepRun.objects.get()
    enrollments_stop(enrollment_ids=[step.enrollment_id], reason="appointment cancelled")

    assert step_run_execute(step_run_id=step.pk) == "skipped"
    step.refresh_from_db()
    assert step.status == "cancelled"
    assert not Contact.objects.get(email="ana@example.com").tags.exists()
    assert booking.pk


def test_it_leaves_the_runs_started_by_the_cancellation_alone(on_commit, calendar, owner):
    workflow_on(
        TriggerType.APPOINTMENT_CANCELLED,
        user=owner,
        actions=reminder_actions(amount=2, unit="days", if_past="continue"),
    )
    with on_commit():
        booking = book(calendar)
        booking_cancel(booking=booking)

    with on_commit():
        run_queued()

    enrollment = Enrollment.objects.get()
    assert enrollment.status == "completed"
    assert "Status: cancelled" in sent_to("ana@example.com")[0].body


def test_it_stops_only_the_cancelled_appointments_runs(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        first = book(calendar)
        book(calendar, start=LATER_SLOT)
    run_queued()

    with on_commit():
        booking_cancel(booking=first)

    by_booking = dict(Enrollment.objects.values_list("booking_id", "status"))
    assert by_booking == {first.pk: "stopped", first.pk + 1: "active"}


def test_it_enrolls_a_contact_once_per_appointment(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        book(calendar)
        book(calendar, start=LATER_SLOT)

    assert Enrollment.objects.filter(status="active").count() == 2


# ----------------------------------------------------------------------- new triggers


def test_it_enrolls_on_a_reschedule(on_commit, calendar, owner):
    workflow = workflow_on(TriggerType.APPOINTMENT_RESCHEDULED, user=owner)
    with on_commit():
        booking = book(calendar)
    assert not Enrollment.objects.exists()

    with on_commit():
        booking_reschedule(booking=booking, start=LATER_SLOT)

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.booking_id) == (workflow, booking.pk)


def test_it_enrolls_on_a_no_show_mark_with_the_status_filter(on_commit, calendar, owner):
    no_show = workflow_on(
        TriggerType.APPOINTMENT_STATUS_CHANGED, {"statuses": ["no_show"]}, user=owner, name="No"
    )
    workflow_on(
        TriggerType.APPOINTMENT_STATUS_CHANGED, {"statuses": ["showed"]}, user=owner, name="Yes"
    )
    with on_commit():
        booking = book(calendar)

    with time_machine.travel(SLOT + timedelta(minutes=5), tick=False), on_commit():
        booking_attendance_mark(booking=booking, attendance="no_show")

    enrollment = Enrollment.objects.get()
    assert enrollment.workflow == no_show
    assert enrollment.trigger_data["status"] == "no_show"


def test_it_filters_appointment_triggers_by_booking_source(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, {"sources": ["page", "admin"]}, user=owner)
    with on_commit():
        book(calendar, source=BookingSource.API)
        book(calendar, start=LATER_SLOT, email="bo@example.com", source=BookingSource.EMBED)

    [enrollment] = Enrollment.objects.all()
    assert enrollment.contact.email == "bo@example.com"
    assert enrollment.trigger_data["source"] == "page"


def test_it_refuses_an_unknown_source_at_save(owner):
    with pytest.raises(WorkflowInvalid) as excinfo:
        workflow_on(TriggerType.APPOINTMENT_BOOKED, {"sources": ["fax"]}, user=owner)
    assert "sources" in excinfo.value.errors["trigger"]["config"]


def test_it_enrolls_the_contact_whose_link_renewal_was_requested(on_commit, calendar, owner):
    workflow = workflow_on(TriggerType.ONE_TIME_LINK_RENEWAL_REQUESTED, user=owner)
    contact = ContactFactory(owner=owner)
    link = OneTimeLink.objects.create(calendar=calendar, contact=contact)

    with on_commit():
        send_on_commit(
            booking_signals.one_time_link_renewal_requested,
            sender=OneTimeLink,
            link_id=link.pk,
            calendar_id=calendar.pk,
            contact_id=contact.pk,
        )

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.contact) == (workflow, contact)
    assert enrollment.trigger_data["link_id"] == link.pk


def test_it_leaves_other_owners_link_renewals_alone(on_commit, calendar):
    workflow_on(TriggerType.ONE_TIME_LINK_RENEWAL_REQUESTED, user=UserFactory())
    contact = ContactFactory()
    link = OneTimeLink.objects.create(calendar=calendar, contact=contact)

    with on_commit():
        send_on_commit(
            booking_signals.one_time_link_renewal_requested,
            sender=OneTimeLink,
            link_id=link.pk,
            calendar_id=calendar.pk,
            contact_id=contact.pk,
        )

    assert not Enrollment.objects.exists()


# -------------------------------------------------------------------- contact origins


def test_it_keeps_a_booker_out_of_a_default_contact_created_workflow(on_commit, calendar, owner):
    workflow_on(TriggerType.CONTACT_CREATED, user=owner)
    with on_commit():
        book(calendar)

    assert Contact.objects.get().origin == "booking"
    assert not Enrollment.objects.exists()


def test_it_enrolls_a_booker_when_the_builder_asks_for_bookings(on_commit, calendar, owner):
    workflow_on(TriggerType.CONTACT_CREATED, {"origins": ["booking"]}, user=owner)
    with on_commit():
        book(calendar)

    assert Enrollment.objects.get().contact.email == "ana@example.com"


def test_it_filters_contact_created_by_origin(on_commit, owner):
    workflow_on(TriggerType.CONTACT_CREATED, {"origins": ["webhook"]}, user=owner)
    with on_commit():
        contact_create(owner=owner, email="api@example.com", origin=Contact.Origin.API)

    assert not Enrollment.objects.exists()


def test_it_refuses_an_explicitly_empty_list_of_origins(owner):
    with pytest.raises(WorkflowInvalid) as excinfo:
        workflow_on(TriggerType.CONTACT_CREATED, {"origins": []}, user=owner)
    assert excinfo.value.errors["trigger"]["config"]["origins"] == ["Choose at least one origin."]


# ------------------------------------------------------------------ email to the owner


def test_it_notifies_the_calendars_owner(on_commit, calendar, owner):
    actions = [
        {
            "type": "send_email",
            "config": {
                "to": "owner",
                "subject": "New booking",
                "body": "{{ contact.full_name }} booked {{ appointment.start_time }}.",
            },
        }
    ]
    workflow_on(
        TriggerType.APPOINTMENT_BOOKED, user=UserFactory(is_superuser=True), actions=actions
    )
    with on_commit():
        book(calendar)

    with on_commit():
        run_queued()

    [message] = sent_to("rosa@example.com")
    assert message.body == "Ana Lima booked Tuesday 8 January 2030, 14:30 (Europe/Berlin)."
    assert sent_to("ana@example.com") == []


def test_it_lets_a_superuser_delete_bookings_whose_runs_are_active(on_commit, calendar, owner):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=owner, actions=reminder_actions())
    with on_commit():
        first = book(calendar)
        second = book(calendar, start=LATER_SLOT)

    Booking.objects.filter(pk__in=[first.pk, second.pk]).delete()

    assert list(Enrollment.objects.values_list("booking", "status")) == [
        (None, "active"),
        (None, "active"),
    ]
