"""Single-line fields refuse control characters at input (issue 13, "A line break in a
name"): a 400 with the field's error on the API, the error on the page form; and email
headers are built from cleaned values."""

from datetime import UTC, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from bookings.models import Booking, OneTimeLink, OutboxMessage
from bookings.notifications import booking_notify
from calendars.models import Calendar
from config.text import one_line
from contacts.models import Contact
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)  # a Wednesday
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # Monday 10:00, inside the factory's hours
MESSAGE = "Use one line of text, without line breaks or control characters."
BAD_VALUES = ["Jamie\r\nBcc: x@example.com", "Jamie\x00", "Jamie\tRivera", "Jam\x85ie", "A\u2028B"]


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar():
    return CalendarFactory(slug="intro")


@pytest.fixture
def staff_api(calendar):
    client = APIClient()
    calendar.owner.is_staff = True
    calendar.owner.save()
    client.force_authenticate(calendar.owner)
    return client


def booking_body(**overrides) -> dict:
    return {
        "start": SLOT.isoformat(),
        "name": "Jamie Rivera",
        "email": "jamie@example.com",
        "timezone": "Europe/Berlin",
        **overrides,
    }


@pytest.mark.parametrize("value", BAD_VALUES)
def test_it_refuses_a_control_character_in_a_name_on_the_public_api(calendar, value):
    response = APIClient().post(
        "/api/public/calendars/intro/bookings/", booking_body(name=value), format="json"
    )

    assert response.status_code == 400
    assert MESSAGE in response.json()["name"]
    assert not Booking.objects.exists()


@pytest.mark.parametrize("field", ["phone", "email"])
def test_it_refuses_a_line_break_in_a_phone_or_email_on_the_public_api(calendar, field):
    value = "+49 30\n1" if field == "phone" else "jamie@example.com\nBcc: x@example.com"
    response = APIClient().post(
        "/api/public/calendars/intro/bookings/", booking_body(**{field: value}), format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not Booking.objects.exists()


def test_it_keeps_line_breaks_in_notes(calendar):
    response = APIClient().post(
        "/api/public/calendars/intro/bookings/",
        booking_body(notes="Line one\nLine two"),
        format="json",
    )

    assert response.status_code == 201
    assert Booking.objects.get().notes == "Line one\nLine two"


def test_it_refuses_localtime_as_an_invitees_timezone(calendar):
    response = APIClient().post(
        "/api/public/calendars/intro/bookings/", booking_body(timezone="localtime"), format="json"
    )

    assert response.status_code == 400
    assert "timezone" in response.json()


def test_it_shows_the_error_on_the_booking_page(client, calendar):
    response = client.post(
        "/book/intro/",
        {"start": SLOT.isoformat(), "tz": "UTC", "name": "Jamie\nRivera", "email": "j@example.com"},
    )

    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    assert not Booking.objects.exists()


def test_it_refuses_a_line_break_in_a_calendar_name(staff_api, calendar):
    response = staff_api.patch(f"/api/calendars/{calendar.pk}/", {"name": "Intro\ncall"})

    assert response.status_code == 400
    assert response.json() == {"name": [MESSAGE]}
    calendar.refresh_from_db()
    assert calendar.name != "Intro\ncall"


@pytest.mark.parametrize("field", ["first_name", "last_name", "email", "phone"])
def test_it_refuses_a_line_break_in_a_contact_field(staff_api, field):
    body = {"first_name": "Ada", "email": "ada@example.com", field: "x\ny@example.com"}

    response = staff_api.post("/api/contacts/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Contact.objects.exists()


def test_it_refuses_a_line_break_in_a_link_label(staff_api, calendar):
    response = staff_api.post(
        f"/api/calendars/{calendar.pk}/one-time-links/", {"label": "for\rAda"}, format="json"
    )

    assert response.status_code == 400
    assert "label" in response.json()
    assert not OneTimeLink.objects.exists()


def test_it_builds_the_owners_subject_from_one_line(calendar):
    # A row stored before names refused line breaks still gives a one-line header.
    booking = BookingFactory(calendar=calendar, invitee_name="Jamie\r\nBcc: all@example.com")
    Calendar.objects.filter(pk=calendar.pk).update(name="Intro\ncall")
    booking.calendar.refresh_from_db()

    booking_notify(booking=booking, event="confirmed")

    subjects = list(OutboxMessage.objects.values_list("subject", flat=True))
    assert len(subjects) == 2
    assert all("\n" not in s and "\r" not in s for s in subjects)
    assert any("Jamie Bcc: all@example.com" in s for s in subjects)


def test_it_folds_whitespace_and_control_characters_into_one_space():
    assert one_line(" a\r\n\tb\x00c\u2028 ") == "a b c"


def workflow_body(calendar, **config) -> dict:
    return {
        "name": "Send a booking link",
        "status": "draft",
        "trigger": {"type": "manual", "config": {}},
        "actions": [
            {
                "key": "email",
                "type": "send_email",
                "config": {"subject": "Pick a time", "body": "Hi", **config},
            },
        ],
    }


@pytest.mark.parametrize("field", ["subject", "to"])
def test_it_refuses_a_line_break_in_a_workflow_emails_header(staff_api, calendar, field):
    value = "Hi\r\nBcc: all@example.com"

    response = staff_api.post(
        "/api/workflows/", workflow_body(calendar, **{field: value}), format="json"
    )

    assert response.status_code == 400
    assert MESSAGE in str(response.json()["actions"][0]["config"][field])
    assert not Workflow.objects.exists()


def test_it_refuses_a_line_break_in_a_workflow_name(staff_api, calendar):
    response = staff_api.post(
        "/api/workflows/", {**workflow_body(calendar), "name": "Send\na link"}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.json()
    assert not Workflow.objects.exists()
