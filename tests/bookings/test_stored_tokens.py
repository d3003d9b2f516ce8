"""A copy of the database alone yields no booking management link: booking emails are
rendered at each delivery and their text is never stored."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core import mail

from bookings.models import Booking, BookingSource, OutboxMessage
from bookings.services.bookings import booking_cancel, booking_create
from bookings.tasks import deliver_outbox_messages
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.db_dump import database_dump, secrets_in

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # Monday 10:00, calendars open 09-17 UTC


@pytest.fixture
def deliver_at_once():
    """Run the delivery task in-process when the booking commits (the worker's path)."""
    with mock.patch.object(deliver_outbox_messages, "delay", side_effect=deliver_outbox_messages):
        yield


def test_it_stores_no_booking_token_after_emails_are_sent(
    deliver_at_once, django_capture_on_commit_callbacks
):
    calendar = CalendarFactory(owner=UserFactory(email="owner@example.com"))
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            calendar=calendar,
            start=SLOT,
            name="Jamie Rivera",
            email="jamie@example.com",
            timezone="Europe/Berlin",
            source=BookingSource.SCHEDULING_LINK,
            now=NOW,
        )
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Clash")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert OutboxMessage.objects.count() == 4
    assert secrets_in(database_dump(), booking.token) == []


def test_it_still_sends_the_working_management_url(
    deliver_at_once, django_capture_on_commit_callbacks
):
    calendar = CalendarFactory()
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            calendar=calendar,
            start=SLOT,
            name="Jamie Rivera",
            email="jamie@example.com",
            timezone="Europe/Berlin",
            source=BookingSource.SCHEDULING_LINK,
            now=NOW,
        )

    [invitee] = [m for m in mail.outbox if m.to == ["jamie@example.com"]]
    assert f"/b/{booking.token}/" in invitee.body
    [(html, _mime)] = invitee.alternatives
    assert f"/b/{booking.token}/" in html
