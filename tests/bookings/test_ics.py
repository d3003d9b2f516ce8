from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import time_machine
from django.urls import reverse

from bookings.ics import booking_ics, google_calendar_url
from bookings.models import Booking
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, 05:00 in New York


@pytest.fixture
def booking():
    owner = UserFactory(email="owner@example.com", first_name="Ada", last_name="Owner")
    calendar = CalendarFactory(
        owner=owner, name="Roof consult", timezone="America/New_York", duration_minutes=45
    )
    with time_machine.travel(START - timedelta(days=3), tick=False):
        return BookingFactory(
            calendar=calendar,
            start=START,
            invitee_name="Jamie Rivera",
            invitee_email="jamie@example.com",
            timezone="Europe/Berlin",
        )


def event_of(text: str) -> tuple[icalendar.Calendar, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(text)
    [event] = cal.walk("VEVENT")
    return cal, event


def test_it_writes_a_request_with_utc_times(booking):
    cal, event = event_of(booking_ics(booking=booking, method="REQUEST"))

    assert str(cal["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == START + timedelta(minutes=45)
    assert "DTSTART:20270315T090000Z" in booking_ics(booking=booking, method="REQUEST")
    assert not cal.walk("VTIMEZONE")


def test_it_names_organizer_attendee_and_summary(booking):
    _, event = event_of(booking_ics(booking=booking, method="REQUEST"))

    assert str(event["SUMMARY"]) == "Roof consult"
    assert str(event["ORGANIZER"]) == "mailto:owner@example.com"
    assert event["ORGANIZER"].params["CN"] == "Ada Owner"
    assert str(event["ATTENDEE"]) == "mailto:jamie@example.com"
    assert event["ATTENDEE"].params["CN"] == "Jamie Rivera"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_it_puts_absolute_manage_links_in_the_description(booking):
    _, event = event_of(booking_ics(booking=booking, method="REQUEST"))

    description = str(event["DESCRIPTION"])
    for name in ("booking", "cancel", "reschedule"):
        url = "http://testserver" + reverse(f"bookings:{name}", kwargs={"token": booking.token})
        assert url in description


def test_it_keeps_the_invitee_links_out_of_the_owner_copy(booking):
    _, event = event_of(booking_ics(booking=booking, method="REQUEST", for_owner=True))

    assert booking.token not in str(event["DESCRIPTION"])
    assert "URL" not in event
    assert "/admin/bookings/booking/" in str(event["DESCRIPTION"])


def test_it_keeps_one_uid_and_raises_the_sequence_on_a_reschedule(booking):
    _, first = event_of(booking_ics(booking=booking, method="REQUEST", sequence=0))
    booking.start = START + timedelta(days=1)
    booking.end = booking.start + timedelta(minutes=45)

    with time_machine.travel(START - timedelta(days=2), tick=False):
        _, moved = event_of(booking_ics(booking=booking, method="REQUEST"))

    assert str(moved["UID"]) == str(first["UID"]) == f"{booking.locator}@testserver"
    assert moved.decoded("SEQUENCE") > first.decoded("SEQUENCE")
    assert moved.decoded("DTSTART") == START + timedelta(days=1)


def test_it_writes_a_cancel_with_the_same_uid_and_a_higher_sequence(booking):
    with time_machine.travel(START - timedelta(days=2), tick=False):
        _, request = event_of(booking_ics(booking=booking, method="REQUEST"))
    booking.status = Booking.Status.CANCELLED
    booking.cancelled_at = START - timedelta(days=1)

    cal, cancel = event_of(booking_ics(booking=booking, method="CANCEL"))

    assert str(cal["METHOD"]) == "CANCEL"
    assert str(cancel["STATUS"]) == "CANCELLED"
    assert str(cancel["UID"]) == str(request["UID"])
    assert cancel.decoded("SEQUENCE") > request.decoded("SEQUENCE")


def test_it_refuses_an_unknown_method(booking):
    with pytest.raises(ValueError, match="method"):
        booking_ics(booking=booking, method="PUBLISH")


def test_it_falls_back_to_the_sender_address_for_an_owner_without_email(booking, settings):
    settings.DEFAULT_FROM_EMAIL = "Onceslot <bookings@example.org>"
    booking.calendar.owner.email = ""

    _, event = event_of(booking_ics(booking=booking, method="REQUEST"))

    assert str(event["ORGANIZER"]) == "mailto:bookings@example.org"


def test_it_builds_a_google_calendar_link_in_utc(booking):
    url = urlsplit(google_calendar_url(booking=booking))
    query = parse_qs(url.query)

    assert url.netloc == "calendar.google.com"
    assert query["action"] == ["TEMPLATE"]
    assert query["text"] == ["Roof consult"]
    assert query["dates"] == ["20270315T090000Z/20270315T094500Z"]
    assert booking.token not in url.query  # Google and the calendar's viewers see it
