"""A booking's secret pages: confirmation, cancel, reschedule and the .ics download."""

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from bookings.models import Booking, BookingSource
from bookings.services.bookings import booking_create
from config.logging import redact
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 7 January 2030, 08:00 UTC; factory calendars are open Mon-Fri 09:00-17:00 UTC.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)  # Tuesday 10:00 UTC
NEW_SLOT = datetime(2030, 1, 9, 14, 0, tzinfo=UTC)  # Wednesday 14:00 UTC


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def booking():
    owner = UserFactory(first_name="Robin", last_name="Okafor")
    calendar = CalendarFactory(owner=owner, name="Intro call", slug="intro")
    return booking_create(
        calendar=calendar,
        start=SLOT,
        name="Jamie Rivera",
        email="jamie@example.com",
        timezone="America/New_York",
        source=BookingSource.SCHEDULING_LINK,
    )


def url(name: str, booking: Booking) -> str:
    return reverse(f"bookings:{name}", kwargs={"token": booking.token})


def times_on_page(response) -> list[str]:
    return re.findall(r'<label class="time-btn" for="time-\d+">(\d\d:\d\d)</label>', response.text)


def test_it_shows_the_confirmation_in_the_invitee_timezone(client, booking):
    response = client.get(url("booking", booking))

    assert response.status_code == 200
    # 10:00 UTC is 05:00 in New York in January.
    assert "Tuesday, 8 January 2030, 05:00 \u2013 05:30" in response.text
    assert "America/New York" in response.text
    assert "Intro call" in response.text
    assert "Robin Okafor" in response.text


def test_it_links_the_confirmation_to_ics_google_cancel_and_reschedule(client, booking):
    response = client.get(url("booking", booking))

    assert f'href="{url("ics", booking)}"' in response.text
    assert f'href="{url("cancel", booking)}"' in response.text
    assert f'href="{url("reschedule", booking)}"' in response.text
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in response.text


@pytest.mark.parametrize("name", ["booking", "cancel", "reschedule", "ics"])
def test_it_keeps_the_secret_pages_out_of_caches_and_referrers(client, booking, name):
    response = client.get(url(name, booking))

    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"


def test_it_downloads_the_ics_invite(client, booking):
    response = client.get(url("ics", booking))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith("attachment;")
    parsed = icalendar.Calendar.from_ical(response.content)
    assert str(parsed["method"]) == "REQUEST"
    event = parsed.walk("VEVENT")[0]
    assert event.decoded("dtstart") == SLOT
    assert event.decoded("dtend") == SLOT + timedelta(minutes=30)


def test_it_downloads_a_cancelled_booking_as_a_cancellation(client, booking):
    client.post(url("cancel", booking))

    response = client.get(url("ics", booking))

    parsed = icalendar.Calendar.from_ical(response.content)
    assert str(parsed["method"]) == "CANCEL"


def test_it_asks_before_cancelling(client, booking):
    response = client.get(url("cancel", booking))

    assert response.status_code == 200
    assert "Cancel this booking?" in response.text
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_it_cancels_on_post_and_frees_the_slot(client, booking):
    response = client.post(url("cancel", booking), {"reason": "Something came up"})

    assert response.status_code == 303
    assert response["Location"] == url("cancel", booking)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancel_reason == "Something came up"
    page = client.get(f"{booking.calendar.scheduling_path()}?date=2030-01-08")
    assert "10:00" in times_on_page(page)


def test_it_shows_the_cancelled_state_after_cancelling(client, booking):
    client.post(url("cancel", booking))

    cancel_page = client.get(url("cancel", booking))
    confirmation = client.get(url("booking", booking))

    assert "Your booking is cancelled" in cancel_page.text
    assert "This booking was cancelled" in confirmation.text
    assert url("reschedule", booking) not in confirmation.text


def test_it_cancels_and_reschedules_from_pages_that_send_no_referrer(booking):
    # Browsers post from a no-referrer page with "Origin: null": no CSRF check may stand
    # in the way (the token in the URL is the authority).
    strict = Client(enforce_csrf_checks=True, headers={"origin": "null"})

    moved = strict.post(
        url("reschedule", booking), {"start": NEW_SLOT.isoformat(), "tz": "America/New_York"}
    )
    cancelled = strict.post(url("cancel", booking))

    assert moved.status_code == 303
    assert cancelled.status_code == 303
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_it_cancels_twice_without_harm(client, booking):
    client.post(url("cancel", booking))

    response = client.post(url("cancel", booking))

    assert response.status_code == 303
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_it_shows_free_times_in_the_booking_timezone_to_reschedule(client, booking):
    response = client.get(f"{url('reschedule', booking)}?date=2030-01-09")

    assert response.status_code == 200
    assert "Reschedule Intro call" in response.text
    assert "Tuesday, 8 January 2030, 05:00 \u2013 05:30" in response.text  # the current time
    assert times_on_page(response)[0] == "04:00"  # 09:00 UTC in New York


def test_it_reschedules_to_a_free_time(client, booking):
    response = client.post(
        url("reschedule", booking), {"start": NEW_SLOT.isoformat(), "tz": "America/New_York"}
    )

    assert response.status_code == 303
    assert response["Location"] == f"{url('booking', booking)}?rescheduled=1"
    booking.refresh_from_db()
    assert booking.start == NEW_SLOT
    assert booking.end == NEW_SLOT + timedelta(minutes=30)
    assert client.get(response["Location"]).text.count("Your booking was moved") == 1


def test_it_keeps_the_old_time_when_the_new_one_is_taken(client, booking):
    BookingFactory(calendar=booking.calendar, start=NEW_SLOT)

    response = client.post(
        url("reschedule", booking), {"start": NEW_SLOT.isoformat(), "tz": "America/New_York"}
    )

    assert response.status_code == 409
    assert "That time was just taken" in response.text
    assert "09:00" not in times_on_page(response)  # 14:00 UTC, taken
    booking.refresh_from_db()
    assert booking.start == SLOT


def test_it_asks_for_a_time_to_reschedule_to(client, booking):
    response = client.post(url("reschedule", booking), {"start": "", "tz": "America/New_York"})

    assert response.status_code == 400
    assert "Pick a time first." in response.text


def test_it_does_not_reschedule_a_cancelled_booking(client, booking):
    client.post(url("cancel", booking))

    page = client.get(url("reschedule", booking))
    response = client.post(
        url("reschedule", booking), {"start": NEW_SLOT.isoformat(), "tz": "America/New_York"}
    )

    assert "A cancelled booking cannot be moved." in page.text
    assert response.status_code == 409
    booking.refresh_from_db()
    assert booking.start == SLOT
    assert booking.status == Booking.Status.CANCELLED


def test_it_lets_the_invitee_move_a_booking_of_a_deactivated_calendar(client, booking):
    calendar = booking.calendar
    calendar.is_active = False
    calendar.save()

    response = client.get(url("reschedule", booking))

    assert response.status_code == 200


@pytest.mark.parametrize("name", ["booking", "cancel", "reschedule", "ics"])
@pytest.mark.parametrize(
    "token", ["short", "x" * 34, "!" * 34, "a" * 35, "%00" + "a" * 31, "../../etc/passwd"]
)
def test_it_answers_malformed_or_unknown_tokens_with_the_product_404(client, name, token):
    response = client.get(
        f"/b/{token}/"
        + {"booking": "", "cancel": "cancel/", "reschedule": "reschedule/", "ics": "invite.ics"}[
            name
        ]
    )

    assert response.status_code == 404
    assert "Page not found" in response.text


def test_it_rejects_every_single_character_change_of_a_token(client, booking):
    token = booking.token
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(token):
        replacement = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        tampered = token[:index] + replacement + token[index + 1 :]
        response = client.post(reverse("bookings:cancel", kwargs={"token": tampered}))
        assert response.status_code == 404, index
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_it_keeps_tokens_out_of_log_lines(booking):
    line = f'"GET {url("cancel", booking)} HTTP/1.1" 200'

    assert booking.token not in redact(line)
