"""Each trigger: which events enroll which contacts, and only in published workflows."""

from datetime import UTC, datetime

import pytest
import time_machine

from bookings.models import BookingSource
from bookings.services.bookings import booking_cancel, booking_create
from contacts.services import contact_create, contact_tag_add, contact_tag_remove
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import make_workflow, run_queued
from workflows.models import Enrollment, TriggerType

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
TAG = [{"key": "tag", "type": "add_tag", "config": {"tag": "entered"}}]


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner():
    return UserFactory()


def workflow_on(trigger_type, config=None, *, user=None, status="published"):
    return make_workflow(
        user=user or UserFactory(),
        trigger={"type": trigger_type, "config": config or {}},
        actions=TAG,
        status=status,
    )


def book(calendar, email="ana@example.com"):
    return booking_create(
        calendar=calendar,
        start=SLOT,
        name="Ana Lima",
        email=email,
        timezone="UTC",
        source=BookingSource.API,
    )


def test_it_enrolls_a_new_contact_in_contact_created_workflows(on_commit, owner):
    workflow = workflow_on(TriggerType.CONTACT_CREATED, user=owner)
    with on_commit():
        contact = contact_create(owner=owner, origin="api", email="new@example.com")

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.contact) == (workflow, contact)
    assert enrollment.trigger_type == TriggerType.CONTACT_CREATED


def test_it_ignores_draft_workflows(on_commit, owner):
    workflow_on(TriggerType.CONTACT_CREATED, user=owner, status="draft")
    with on_commit():
        contact_create(owner=owner, origin="api", email="new@example.com")
    assert Enrollment.objects.count() == 0


def test_it_enrolls_nothing_before_the_transaction_commits(
    django_capture_on_commit_callbacks, owner
):
    workflow_on(TriggerType.CONTACT_CREATED, user=owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contact_create(owner=owner, origin="api", email="new@example.com")
    assert Enrollment.objects.count() == 0
    assert callbacks  # the signal waits for the commit


def test_it_enrolls_on_the_chosen_tag_only(on_commit, owner):
    workflow = workflow_on(TriggerType.CONTACT_TAG_ADDED, {"tag": "VIP"}, user=owner)
    contact = ContactFactory(owner=owner)
    with on_commit():
        contact_tag_add(contact=contact, name="other")
        contact_tag_add(contact=contact, name="vip")

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.trigger_data) == (workflow, {"tag": "vip"})


@pytest.mark.django_db(transaction=True)
def test_it_does_not_loop_when_a_workflow_re_adds_its_own_tag(enqueued):
    # Real commits: the tag action's signal fires when its own transaction commits, while
    # the contact is still active in the workflow.
    owner = UserFactory()
    make_workflow(
        user=owner,
        trigger={"type": "contact_tag_added", "config": {"tag": "loop"}},
        actions=[
            {"key": "drop", "type": "remove_tag", "config": {"tag": "loop"}},
            {"key": "again", "type": "add_tag", "config": {"tag": "loop"}},
        ],
    )
    contact = ContactFactory(owner=owner)
    contact_tag_add(contact=contact, name="loop")
    run_queued()

    enrollments = list(Enrollment.objects.all())
    assert [e.status for e in enrollments] == [Enrollment.Status.COMPLETED]
    assert list(contact.tags.values_list("name", flat=True)) == ["loop"]


def test_it_enrolls_the_invitee_when_an_appointment_is_booked(on_commit):
    calendar = CalendarFactory()
    workflow = workflow_on(TriggerType.APPOINTMENT_BOOKED, user=calendar.owner)
    with on_commit():
        booking = book(calendar)

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.contact) == (workflow, booking.contact)
    assert enrollment.trigger_data["booking_id"] == booking.pk
    assert enrollment.trigger_data["source"] == BookingSource.API


def test_it_filters_appointments_by_the_chosen_calendar(on_commit):
    owner = UserFactory()
    chosen, other = CalendarFactory(owner=owner), CalendarFactory(owner=owner)
    workflow_on(TriggerType.APPOINTMENT_BOOKED, {"calendar": chosen.pk}, user=owner)
    with on_commit():
        book(other, "a@example.com")
    assert Enrollment.objects.count() == 0
    with on_commit():
        book(chosen, "b@example.com")
    assert Enrollment.objects.get().contact.email == "b@example.com"


def test_it_does_not_see_appointments_on_someone_elses_calendar(on_commit):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=UserFactory())
    with on_commit():
        book(CalendarFactory())
    assert Enrollment.objects.count() == 0


def test_it_lets_a_superusers_workflow_see_every_calendar(on_commit):
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=UserFactory(is_superuser=True))
    with on_commit():
        book(CalendarFactory())
    assert Enrollment.objects.count() == 1


def test_it_enrolls_the_invitee_when_an_appointment_is_cancelled(on_commit):
    calendar = CalendarFactory()
    booked = workflow_on(TriggerType.APPOINTMENT_BOOKED, user=calendar.owner, status="draft")
    cancelled = workflow_on(TriggerType.APPOINTMENT_CANCELLED, user=calendar.owner)
    with on_commit():
        booking = book(calendar)
    assert Enrollment.objects.count() == 0
    with on_commit():
        booking_cancel(booking=booking, reason="ill")

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.trigger_type) == (cancelled, "appointment_cancelled")
    assert booked.enrollments.count() == 0


def test_it_leaves_the_other_trigger_types_alone(on_commit, owner):
    for trigger_type in (TriggerType.MANUAL, TriggerType.INBOUND_WEBHOOK):
        workflow_on(trigger_type, user=owner)
    with on_commit():
        contact = contact_create(owner=owner, origin="api", email="x@example.com", tags=["a"])
        contact_tag_remove(contact=contact, name="a")
    assert Enrollment.objects.count() == 0


def test_it_enrolls_in_every_matching_workflow(on_commit, owner):
    first = workflow_on(TriggerType.CONTACT_CREATED, user=owner)
    second = workflow_on(TriggerType.CONTACT_CREATED, user=owner)
    with on_commit():
        contact_create(owner=owner, origin="api", email="x@example.com")
    assert set(Enrollment.objects.values_list("workflow", flat=True)) == {first.pk, second.pk}


def test_it_keeps_the_booking_when_a_trigger_fails(on_commit, monkeypatch):
    from workflows import receivers

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(receivers, "workflows_trigger", broken)
    calendar = CalendarFactory()
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=calendar.owner)
    with on_commit():
        booking = book(calendar)

    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert Enrollment.objects.count() == 0


def test_it_costs_one_query_per_event_when_no_workflow_listens(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    calendar = CalendarFactory()
    workflow_on(TriggerType.APPOINTMENT_BOOKED, user=calendar.owner, status="draft")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        book(calendar)
    signal_senders = [c for c in callbacks if c.__qualname__ == "send_on_commit.<locals>.send"]

    # contact_created and booking_confirmed: one look at the published workflows each, and
    # (issue 15) bookings' own write-back receiver asks whether the owner has a write calendar.
    assert len(signal_senders) == 2
    with django_assert_num_queries(3):
        for send in signal_senders:
            send()
    assert Enrollment.objects.count() == 0


# Ownership: a staff user's workflow reacts to their own contacts only.


def test_it_does_not_start_my_workflow_for_another_owners_new_contact(on_commit, owner):
    workflow_on(TriggerType.CONTACT_CREATED, user=owner)
    with on_commit():
        contact_create(owner=UserFactory(), origin="api", email="theirs@example.com")
    assert Enrollment.objects.count() == 0


def test_it_does_not_start_my_workflow_for_a_tag_on_another_owners_contact(on_commit, owner):
    workflow_on(TriggerType.CONTACT_TAG_ADDED, {"tag": "vip"}, user=owner)
    theirs = ContactFactory()
    with on_commit():
        contact_tag_add(contact=theirs, name="vip")
    assert Enrollment.objects.count() == 0


def test_it_starts_only_the_owners_workflow_for_a_new_invitee(on_commit, owner):
    calendar = CalendarFactory(owner=owner)
    # Bookers enter contact_created workflows only when the builder asks for them.
    mine = workflow_on(TriggerType.CONTACT_CREATED, {"origins": ["booking"]}, user=owner)
    workflow_on(TriggerType.CONTACT_CREATED, {"origins": ["booking"]})
    with on_commit():
        booking = book(calendar)

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.contact) == (mine, booking.contact)
    assert booking.contact.owner == owner


def test_it_lets_a_superusers_workflow_see_every_owners_new_contacts(on_commit):
    workflow_on(TriggerType.CONTACT_CREATED, user=UserFactory(is_superuser=True))
    with on_commit():
        contact_create(owner=UserFactory(), origin="api", email="theirs@example.com")
    assert Enrollment.objects.count() == 1
