"""bookings.ics.booking_paths / booking_links: a booking's own secret pages."""

import pytest
from django.test import override_settings
from django.urls import reverse, set_script_prefix

from bookings.ics import LINK_NAMES, booking_links, booking_paths
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking():
    return BookingFactory()


def test_it_gives_what_reverse_gives_for_every_page(booking):
    expected = {
        name: reverse(f"bookings:{name}", kwargs={"token": booking.token}) for name in LINK_NAMES
    }
    assert booking_paths(booking=booking) == expected


def test_it_makes_absolute_links_from_site_url(booking, settings):
    settings.SITE_URL = "https://book.example.com"
    links = booking_links(booking=booking)
    assert links["cancel"] == (
        "https://book.example.com" + reverse("bookings:cancel", kwargs={"token": booking.token})
    )
    assert set(links) == set(LINK_NAMES)


def test_it_uses_the_token_it_is_given(booking):
    other = BookingFactory()
    assert booking_paths(booking=booking, token=other.token) == booking_paths(booking=other)


def test_it_follows_the_script_prefix(booking):
    set_script_prefix("/onceslot/")
    try:
        paths = booking_paths(booking=booking)
        assert paths["ics"] == reverse("bookings:ics", kwargs={"token": booking.token})
        assert paths["ics"].startswith("/onceslot/b/")
    finally:
        set_script_prefix("/")


def test_it_follows_a_changed_urlconf(booking):
    booking_paths(booking=booking)  # remembered for the project's URLconf
    with override_settings(ROOT_URLCONF="tests.bookings.urls_moved"):
        assert booking_paths(booking=booking)["booking"] == f"/moved/b/{booking.token}/"
    assert booking_paths(booking=booking)["booking"] == f"/b/{booking.token}/"
