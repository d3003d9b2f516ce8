"""A copy of the database alone yields no one-time link: a workflow's link step stores the
link's id, and its Send Email step stores templates and values, rendered at delivery."""

from datetime import UTC, datetime
from unittest import mock

import pytest
import time_machine
from django.core import mail

from bookings.models import OneTimeLink, OutboxMessage
from bookings.services.one_time_links import one_time_link_book
from bookings.tasks import deliver_outbox_messages
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.db_dump import database_dump, secrets_in
from tests.workflows.support import link_and_email_actions, make_workflow, run_queued
from workflows.models import StepRun
from workflows.services import enrollment_create

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def sent_link(django_capture_on_commit_callbacks):
    """A workflow that made a link and emailed it (the URL in subject and body)."""
    calendar = CalendarFactory(owner=UserFactory(), name="Intro call")
    actions = link_and_email_actions(
        calendar.pk,
        subject="Your link {{ link.url }}",
        body_html='<a href="{{ link.url }}">Book</a>',
    )
    workflow = make_workflow(user=calendar.owner, actions=actions)
    contact = ContactFactory(owner=calendar.owner, first_name="Ada", email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_create(workflow=workflow, contact=contact, trigger_type="manual")
    assert run_queued() == ["succeeded", "succeeded"]
    return OneTimeLink.objects.get()


def test_it_stores_no_link_or_booking_token(sent_link, django_capture_on_commit_callbacks):
    # The invitee books through the emailed link: booking emails go out too.
    with (
        mock.patch.object(deliver_outbox_messages, "delay", side_effect=deliver_outbox_messages),
        django_capture_on_commit_callbacks(execute=True),
    ):
        booking = one_time_link_book(
            token=sent_link.token,
            start=SLOT,
            name="Ada Lovelace",
            email="ada@example.com",
            timezone="Europe/Berlin",
        )

    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert OutboxMessage.objects.count() >= 2
    assert secrets_in(database_dump(), sent_link.token, booking.token) == []


def test_it_emails_the_working_link(sent_link):
    url = f"http://testserver/l/{sent_link.token}/"
    [email] = mail.outbox
    assert email.subject == f"Your link {url}"
    assert email.body == f"Hi Ada, book here: {url}"
    assert email.alternatives[0][0] == f'<a href="{url}">Book</a>'


def test_it_shows_a_stand_in_for_the_link_in_stored_subjects(sent_link):
    stand_in = f"Your link [one-time link {sent_link.pk}]"
    assert OutboxMessage.objects.get().subject == stand_in
    assert StepRun.objects.get(key="email").output["subject"] == stand_in
    assert StepRun.objects.get(key="link").output["link_id"] == sent_link.pk


def test_it_fails_the_email_when_its_link_is_gone_before_delivery(sent_link):
    message = OutboxMessage.objects.get()
    OutboxMessage.objects.filter(pk=message.pk).update(status="pending")
    sent_link.delete()

    assert deliver_outbox_messages([message.pk]) == 0

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert "link.url" in message.last_error
