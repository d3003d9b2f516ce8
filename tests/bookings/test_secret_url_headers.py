"""URLs that carry a secret token answer uncached and send no Referer onwards (issue 13):
the public one-time-link API like the link pages; the Google Calendar link carries no
booking management token."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from rest_framework.test import APIClient

from bookings.ics import google_calendar_url
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def assert_private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("suffix", ["", "slots/?start=2030-01-08&end=2030-01-09&timezone=UTC"])
def test_it_answers_the_link_api_uncached_and_without_referrer(suffix):
    link = OneTimeLinkFactory()

    response = APIClient().get(f"/api/public/links/{link.token}/{suffix}")

    assert response.status_code == 200
    assert_private(response)


def test_it_answers_a_booking_through_the_link_api_uncached():
    link = OneTimeLinkFactory()
    body = {
        "start": SLOT.isoformat(),
        "name": "Ana Lima",
        "email": "ana@example.com",
        "timezone": "UTC",
    }

    response = APIClient().post(f"/api/public/links/{link.token}/bookings/", body, format="json")

    assert response.status_code == 201
    assert_private(response)


def test_it_answers_an_unknown_or_spent_link_uncached_too():
    link = OneTimeLinkFactory(used_at=NOW)
    unknown = APIClient().get("/api/public/links/" + "A" * 34 + "/")
    spent = APIClient().get(
        f"/api/public/links/{link.token}/slots/?start=2030-01-08&end=2030-01-09&timezone=UTC"
    )

    assert (unknown.status_code, spent.status_code) == (404, 410)
    assert_private(unknown)
    assert_private(spent)


def test_it_leaves_the_management_token_out_of_the_google_calendar_link():
    booking = BookingFactory()

    url = google_calendar_url(booking=booking)

    assert booking.token not in url
    assert booking.token[:12] not in url  # not even the locator
    details = parse_qs(urlsplit(url).query)["details"][0]
    assert "/b/" not in details
