"""The booking page in each language in a real browser: what the script draws (months, days,
times after a timezone switch) reads as the server's page does. Screenshots of each
language at phone and desktop widths go to test-artifacts/."""

from datetime import time

import pytest

from tests.browser.conftest import DESKTOP, PHONE, assert_png
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "de": "de-DE", "es": "es-ES", "fr": "fr-FR"}
CONFIRM = {
    "en": "Confirm booking",
    "de": "Buchung bestätigen",
    "es": "Confirmar la reserva",
    "fr": "Confirmer la réservation",
}


@pytest.fixture
def calendar(transactional_db):
    return CalendarFactory(
        owner=UserFactory(first_name="Robin", last_name="Okafor"),
        name="Onceslot Demo",
        slug="demo",
        timezone="UTC",
        hours=[(weekday, time(8), time(18)) for weekday in range(7)],
    )


def slots_response(response) -> bool:
    return "/slots/" in response.url and response.status == 200


@pytest.mark.parametrize("lang", list(LOCALES))
def test_it_saves_screenshots_of_the_booking_page_in_each_language(
    live_server, calendar, new_page, screenshot, lang
):
    paths = []
    for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(viewport=viewport, locale=LOCALES[lang], timezone_id="UTC")
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
        assert page.locator("html").get_attribute("lang") == lang
        page.locator(".time-btn").nth(1).click()
        assert page.get_by_role("button", name=CONFIRM[lang]).is_visible()
        paths.append(screenshot(page, f"booking-page-{lang}-{width}"))
    for path in paths:
        assert_png(path)


def test_it_draws_months_and_times_in_the_pages_language(live_server, calendar, new_page):
    page = new_page(locale="de-DE", timezone_id="Europe/Berlin")
    with page.expect_response(slots_response):
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    page.wait_for_function("document.querySelector('[data-tz-select]').value === 'Europe/Berlin'")

    with page.expect_response(slots_response):
        page.locator("[data-nav=next]").click()
    label = page.locator("[data-month-label]").inner_text()
    assert label.split()[0] in {
        "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
        "September", "Oktober", "November", "Dezember",
    }  # fmt: skip
    assert page.locator(".time-btn").first.inner_text() == "09:00"  # 08:00 UTC, 24-hour
    assert page.locator("[data-times-legend]").inner_text().split(",")[0] in {
        "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag",
    }  # fmt: skip


def test_it_draws_12_hour_times_for_a_us_visitor_and_24_on_request(live_server, calendar, new_page):
    page = new_page(locale="en-US", timezone_id="America/New_York")
    with page.expect_response(slots_response):
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    page.wait_for_function(
        "document.querySelector('[data-tz-select]').value === 'America/New_York'"
    )
    assert page.locator(".time-btn").first.inner_text().endswith("AM")

    page.get_by_role("link", name="24h").click()
    page.wait_for_url("**clock=24**")
    page.wait_for_load_state("networkidle")
    first = page.locator(".time-btn").first.inner_text()
    assert ":" in first and "M" not in first
