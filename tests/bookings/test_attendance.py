"""Marking a booking showed or no-show: POST /api/bookings/<id>/status/, the admin's list
actions and the booking page's buttons; the signal workflows listen to."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from bookings import signals
from bookings.models import Booking
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 15, 11, 0, tzinfo=UTC)
STARTED = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)
LIST_URL = "/admin/bookings/booking/"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar():
    return CalendarFactory()


@pytest.fixture
def booking(calendar):
    return BookingFactory(calendar=calendar, start=STARTED)


@pytest.fixture
def api(calendar):
    client = APIClient()
    client.force_authenticate(calendar.owner)
    return client


@pytest.fixture
def sent():
    """The booking_status_changed signals sent (after commit)."""
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.booking_status_changed.connect(receiver, dispatch_uid="test-attendance")
    yield received
    signals.booking_status_changed.disconnect(dispatch_uid="test-attendance")


def url(booking) -> str:
    return f"/api/bookings/{booking.pk}/status/"


def test_it_marks_a_booking_no_show(api, booking, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url(booking), {"status": "no_show"}, format="json")

    assert response.status_code == 200
    assert response.json()["attendance"] == "no_show"
    assert response.json()["status"] == "confirmed"
    booking.refresh_from_db()
    assert (booking.attendance, booking.attendance_marked_at) == ("no_show", NOW)
    assert booking.effective_status == "no_show"
    assert sent == [
        {
            "signal": signals.booking_status_changed,
            "booking_id": booking.pk,
            "calendar_id": booking.calendar_id,
            "contact_id": None,
            "status": "no_show",
        }
    ]


def test_it_sends_nothing_when_the_mark_does_not_change(
    api, booking, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.post(url(booking), {"status": "showed"}, format="json")
        response = api.post(url(booking), {"status": "showed"}, format="json")

    assert response.status_code == 200
    assert len(sent) == 1


def test_it_answers_404_for_another_staff_members_booking(booking):
    client = APIClient()
    client.force_authenticate(UserFactory())

    response = client.post(url(booking), {"status": "no_show"}, format="json")

    assert response.status_code == 404
    booking.refresh_from_db()
    assert booking.attendance == ""


def test_it_refuses_an_unknown_status(api, booking):
    response = api.post(url(booking), {"status": "late"}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()
    booking.refresh_from_db()
    assert booking.attendance == ""


def test_it_refuses_a_booking_that_has_not_started(api, calendar):
    future = BookingFactory(calendar=calendar, start=NOW + timedelta(hours=2))

    response = api.post(url(future), {"status": "no_show"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "status": ["Attendance can be marked once the appointment has started."]
    }


def test_it_refuses_a_cancelled_booking(api, calendar):
    cancelled = BookingFactory(calendar=calendar, start=STARTED, status="cancelled")

    response = api.post(url(cancelled), {"status": "showed"}, format="json")

    assert response.status_code == 400
    cancelled.refresh_from_db()
    assert cancelled.attendance == ""


def test_it_keeps_the_seat_of_a_no_show(api, booking):
    api.post(url(booking), {"status": "no_show"}, format="json")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_it_marks_the_selected_bookings_from_the_admin_list(client, calendar, booking):
    future = BookingFactory(calendar=calendar, start=NOW + timedelta(days=1))
    client.force_login(calendar.owner)

    response = client.post(
        LIST_URL,
        {"action": "mark_no_show", "_selected_action": [booking.pk, future.pk]},
        follow=True,
    )

    assert response.status_code == 200
    booking.refresh_from_db()
    future.refresh_from_db()
    assert (booking.attendance, future.attendance) == ("no_show", "")
    text = response.content.decode()
    assert "Marked 1 booking no-show." in text
    assert "once the appointment has started" in text


def test_it_marks_showed_from_the_booking_page(client, calendar, booking):
    client.force_login(calendar.owner)
    page = f"/admin/bookings/booking/{booking.pk}/change/"
    assert "Mark showed" in client.get(page).content.decode()

    response = client.post(
        f"/admin/bookings/booking/{booking.pk}/attendance/", {"attendance": "showed"}
    )

    assert response.status_code == 302
    assert response["Location"] == page
    booking.refresh_from_db()
    assert booking.attendance == "showed"


def test_it_hides_another_staff_members_booking_from_the_mark_page(client, booking):
    client.force_login(UserFactory())

    response = client.post(
        f"/admin/bookings/booking/{booking.pk}/attendance/", {"attendance": "showed"}
    )

    assert response.status_code == 404
    booking.refresh_from_db()
    assert booking.attendance == ""
