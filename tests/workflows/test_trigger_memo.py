"""Which trigger types are live: asked once per request or Celery task, never stale outside
one, never shared between threads, forgotten after a workflow write in the same unit."""

import threading
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import time_machine
from celery.signals import task_postrun, task_prerun
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings.models import Booking
from contacts.models import Contact
from contacts.services import contact_create
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.workflows.factories import WorkflowFactory
from tests.workflows.support import make_workflow
from workflows import selectors
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


@contextmanager
def request_scope():
    """A request whose "view" is a few service calls: the memo's receivers are called as
    request_started and request_finished would (sending those signals would also run
    close_old_connections, which closes the test's transaction; the booking request test
    covers the wiring)."""
    selectors.published_trigger_types_memo_start()
    try:
        yield
    finally:
        selectors.published_trigger_types_memo_stop()


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
def test_it_asks_once_per_booking_request_by_a_new_invitee(no_outbox_delivery, enqueued):
    _, queries = book_capturing_queries()

    assert Contact.objects.get().email == "jamie@example.com"
    assert Booking.objects.count() == 1
    assert len(workflow_statements(queries)) == 1


@pytest.mark.postgres  # the statement that carries it is PostgreSQL's (config.rows.together)
@pytest.mark.django_db(transaction=True)
def test_it_asks_in_a_statement_the_booking_sends_anyway(no_outbox_delivery, enqueued):
    _, queries = book_capturing_queries()

    [statement] = workflow_statements(queries)
    assert statement.startswith("WITH i0 AS (INSERT INTO")  # the booking's own writes


@pytest.mark.django_db
def test_it_rides_along_only_while_a_units_memo_is_empty():
    assert selectors.published_trigger_types_rider() is None  # no unit, no memo

    with request_scope():
        rider = selectors.published_trigger_types_rider()
        assert rider is not None
        rider.answer('["contact_created"]')

        assert selectors.published_trigger_types_rider() is None  # filled now
        assert published_trigger_types() == frozenset({"contact_created"})


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
def test_it_never_answers_stale_outside_a_request():
    assert TriggerType.CONTACT_CREATED not in published_trigger_types()

    # Saved directly, not through a workflow service (which would end any memo anyway).
    WorkflowFactory(trigger_type=TriggerType.CONTACT_CREATED)

    assert TriggerType.CONTACT_CREATED in published_trigger_types()


@pytest.mark.django_db
def test_it_answers_from_one_query_within_a_request():
    with request_scope(), CaptureQueriesContext(connection) as queries:
        first = published_trigger_types()
        second = published_trigger_types()

    assert first == second
    assert len(workflow_statements(queries)) == 1


@pytest.mark.django_db
def test_it_forgets_the_memo_when_the_request_finishes():
    with request_scope():
        assert TriggerType.CONTACT_CREATED not in published_trigger_types()
    WorkflowFactory(trigger_type=TriggerType.CONTACT_CREATED)

    assert TriggerType.CONTACT_CREATED in published_trigger_types()


@pytest.mark.django_db
def test_it_memoizes_within_a_celery_task_and_forgets_after():
    task_prerun.send(sender=None, task_id="t1", task=None, args=(), kwargs={})
    with CaptureQueriesContext(connection) as queries:
        published_trigger_types()
        published_trigger_types()
    task_postrun.send(sender=None, task_id="t1", task=None, args=(), kwargs={})
    with CaptureQueriesContext(connection) as after:
        published_trigger_types()

    assert len(workflow_statements(queries)) == 1
    assert len(workflow_statements(after)) == 1


def test_it_keeps_one_memo_per_thread(monkeypatch):
    asked: list[str] = []

    def query() -> frozenset[str]:
        name = threading.current_thread().name
        asked.append(name)
        return frozenset({name})

    monkeypatch.setattr(selectors, "_published_trigger_types_query", query)
    answers: dict[str, frozenset[str]] = {}

    def other_request() -> None:
        answers["outside"] = published_trigger_types()  # no memo inherited from main
        with request_scope():
            answers["inside"] = published_trigger_types()

    with request_scope():
        main_answer = published_trigger_types()
        thread = threading.Thread(target=other_request, name="other")
        thread.start()
        thread.join()
        # The other thread's request, started and finished meanwhile, left ours alone.
        assert published_trigger_types() == main_answer == frozenset({"MainThread"})

    assert answers == {"outside": frozenset({"other"}), "inside": frozenset({"other"})}
    assert asked == ["MainThread", "other", "other"]


@pytest.mark.django_db
def test_it_enrolls_a_contact_created_after_a_publish_in_the_same_request(
    django_capture_on_commit_callbacks, enqueued
):
    workflow = workflow_on(TriggerType.CONTACT_CREATED, status="draft")

    with request_scope():
        assert TriggerType.CONTACT_CREATED not in published_trigger_types()  # memoized
        workflow_set_status(workflow=workflow, status=Workflow.Status.PUBLISHED)
        with django_capture_on_commit_callbacks(execute=True):
            contact = contact_create(email="new@example.com", origin="api")

    enrollment = Enrollment.objects.get()
    assert (enrollment.workflow, enrollment.contact) == (workflow, contact)


@pytest.mark.django_db
def test_it_sees_an_unpublish_rolled_back_in_the_same_request():
    workflow = workflow_on(TriggerType.CONTACT_CREATED)

    with request_scope():
        with pytest.raises(RuntimeError), transaction.atomic():
            workflow_set_status(workflow=workflow, status=Workflow.Status.DRAFT)
            assert TriggerType.CONTACT_CREATED not in published_trigger_types()
            raise RuntimeError("rolled back")

        assert TriggerType.CONTACT_CREATED in published_trigger_types()
