"""Which trigger types are live: a plain query, so a publish or an unpublish (even one
rolled back) is seen by the next question."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings.models import Booking
from contacts.models import Contact
from contacts.services import contact_create
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.workflows.factories import WorkflowFactory
from tests.workflows.support import make_workflow
from workflows.models import Enrollment, TriggerType, Workflow
from workflows.selectors import published_trigger_types
from workflows.services import workflow_set_status

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)  # a Wednesday
TAG = [{"key": "tag", "type": "add_tag", "config": {"tag": "entered"}}]
BOOKING = {
    "start": "2027-03-15T11:00:00+01:00",  # Monday 10:00 UTC, inside the factory's hours
    "name": "Jamie Rivera",
    "email": "jamie@example.com",
    "timezone": "Europe/Berlin",
}


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def no_outbox_delivery(monkeypatch):
    from bookings import tasks as booking_tasks

    monkeypatch.setattr(booking_tasks.deliver_outbox_message, "delay", lambda *a: None)
    monkeypatch.setattr(booking_tasks.deliver_outbox_messages, "delay", lambda *a: None)


def workflow_on(trigger_type: str, *, status: str = "published", user=None) -> Workflow:
    # Contact created: every origin, so that a booker enters too.
    config = {"origins": ["booking", "api"]} if trigger_type == TriggerType.CONTACT_CREATED else {}
    return make_workflow(
        user=user or UserFactory(),
        trigger={"type": trigger_type, "config": config},
        actions=TAG,
        status=status,
    )


def workflow_statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if '"workflows_workflow"' in q["sql"]]


def book_capturing_queries():
    """POST a booking (real commits: contact_created and booking_confirmed are sent inside
    the request); its response and the queries it made."""
    url = f"/api/public/calendars/{CalendarFactory().slug}/bookings/"
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().post(url, BOOKING, format="json")
    assert response.status_code == 201
    return response, queries


@pytest.mark.django_db(transaction=True)
def test_it_asks_a_booking_request_by_a_new_invitee_a_bounded_number_of_times(
    no_outbox_delivery, enqueued
):
    _, queries = book_capturing_queries()

    assert Contact.objects.get().email == "jamie@example.com"
    assert Booking.objects.count() == 1
    # Once per signal (contact_created, booking_confirmed), never per workflow or action.
    assert len(workflow_statements(queries)) <= 2


@pytest.mark.django_db(transaction=True)
def test_it_enrolls_from_a_booking_request_in_both_live_triggers(no_outbox_delivery, enqueued):
    calendar = CalendarFactory()
    created = workflow_on(TriggerType.CONTACT_CREATED, user=calendar.owner)
    booked = workflow_on(TriggerType.APPOINTMENT_BOOKED, user=calendar.owner)
    url = f"/api/public/calendars/{calendar.slug}/bookings/"

    response = APIClient().post(url, BOOKING, format="json")

    assert response.status_code == 201
    assert set(Enrollment.objects.values_list("workflow", flat=True)) == {created.pk, booked.pk}


@pytest.mark.django_db
def test_it_answers_a_workflow_saved_directly_at_once():
    assert TriggerType.CONTACT_CREATED not in published_trigger_types()

    WorkflowFactory(trigger_type=TriggerType.CONTACT_CREATED)

    assert TriggerType.CONTACT_CREATED in published_trigger_types()


@pytest.mark.django_db
def test_it_enrolls_a_contact_created_after_a_publish_in_the_same_request(
    django_capture_on_commit_callbacks, enqueued
):
    owner = UserFactory()
    workflow = workflow_on(TriggerType.CONTACT_CREATED, status="draft", user=owner)

    assert TriggerType.CONTACT_CREATED not in published_trigger_types()
    workflow_set_status(workflow=workflow, status=Workflow.Status.PUBLISHED)
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(owner=owner, email="new@example.com", origin="api")

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.contact) == (workflow, contact)


@pytest.mark.django_db
def test_it_sees_an_unpublish_rolled_back_in_the_same_request():
    workflow = workflow_on(TriggerType.CONTACT_CREATED)

    with pytest.raises(RuntimeError), transaction.atomic():
        workflow_set_status(workflow=workflow, status=Workflow.Status.DRAFT)
        assert TriggerType.CONTACT_CREATED not in published_trigger_types()
        raise RuntimeError("rolled back")

    assert TriggerType.CONTACT_CREATED in published_trigger_types()
