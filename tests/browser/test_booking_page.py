"""The booking page as a person uses it, in a real headless Chromium against a live server.

Time is not frozen here: the browser's clock is real, so the calendar is open every day and
the tests pick whatever days and times the page offers, then check the stored booking.
"""

import re
from datetime import time
from zoneinfo import ZoneInfo

import pytest

from bookings.models import Booking, BookingSource
from config.i18n import format_time
from tests.browser.conftest import PHONE, assert_png
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def calendar(transactional_db):
    owner = UserFactory(first_name="Robin", last_name="Okafor")
    return CalendarFactory(
        owner=owner,
        name="Intro call",
        slug="intro",
        timezone="UTC",
        duration_minutes=30,
        description="A first chat about your project: goals, timeline and budget.",
        hours=[(weekday, time(8), time(18)) for weekday in range(7)],
    )


def slots_response(response) -> bool:
    return "/slots/" in response.url and response.status == 200


def test_it_books_after_switching_timezone_and_picking_a_day_and_time(
    live_server, calendar, new_page, screenshot
):
    page = new_page(timezone_id="Asia/Tokyo")

    # The browser reports Tokyo, so the script re-reads the month in that zone by itself.
    with page.expect_response(slots_response):
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    page.wait_for_function("document.querySelector('[data-tz-select]').value === 'Asia/Tokyo'")
    assert page.locator("h1").inner_text() == "Intro call"
    assert page.locator("[data-details]").is_hidden()

    with page.expect_response(slots_response):
        page.select_option("[data-tz-select]", "America/New_York")
    page.wait_for_url(re.compile(r"tz=America%2FNew_York"))
    assert "America/New York" in page.locator("[data-tz-label]").inner_text()

    # Another free day than the one preselected.
    day = page.locator("a.day.free:not(.selected)").first
    chosen_date = day.get_attribute("data-date")
    day.click()
    page.wait_for_selector(f'a.day.selected[data-date="{chosen_date}"]')
    assert page.url.endswith(f"date={chosen_date}") or f"date={chosen_date}" in page.url

    first_time = page.locator(".time-btn").first
    time_label = first_time.inner_text()
    first_time.click()
    assert page.locator("[data-details]").is_visible()
    assert time_label in page.locator("[data-selected-summary]").inner_text()

    page.get_by_label("Name").fill("Jamie Rivera")
    page.get_by_label("Email").fill("jamie@example.com")
    page.get_by_role("button", name="Confirm booking").click()
    page.wait_for_selector("text=You are booked")

    booking = Booking.objects.get()
    local = booking.start.astimezone(ZoneInfo("America/New_York"))
    assert booking.timezone == "America/New_York"
    assert booking.source == BookingSource.SCHEDULING_LINK
    assert local.date().isoformat() == chosen_date
    # en-US reads 12-hour times (config/i18n.py).
    assert format_time(local, 12) == time_label
    body = page.locator("main").inner_text()
    assert f"{format_time(local, 12)} \u2013" in body
    assert "America/New York" in body
    assert_png(screenshot(page, "booking-confirmation"))


def test_it_books_with_javascript_off(live_server, calendar, new_page):
    page = new_page(java_script_enabled=False)

    page.goto(f"{live_server.url}{calendar.scheduling_path()}?tz=Europe/Berlin")
    page.locator("a.day.free").nth(1).click()
    page.locator(".time-btn").nth(2).click()  # a <label> for a radio: no script needed
    page.get_by_label("Name").fill("Sam Offline")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Confirm booking").click()
    page.wait_for_selector("text=You are booked")

    booking = Booking.objects.get()
    assert booking.invitee_name == "Sam Offline"
    assert booking.timezone == "Europe/Berlin"


def test_it_moves_between_months_without_reloading(live_server, calendar, page):
    page.goto(f"{live_server.url}{calendar.scheduling_path()}?tz=UTC")
    page.evaluate("window.__sameDocument = true")
    first_label = page.locator("[data-month-label]").inner_text()

    with page.expect_response(slots_response):
        page.get_by_role("link", name="Next month").click()

    page.wait_for_function(
        f"document.querySelector('[data-month-label]').textContent !== {first_label!r}"
    )
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("a.day.free").count() > 0
    assert "month=" in page.url


def test_it_can_be_used_from_the_keyboard(live_server, calendar, page):
    page.goto(f"{live_server.url}{calendar.scheduling_path()}?tz=UTC")

    page.locator(".time-input").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")

    checked = page.locator(".time-input:checked")
    assert checked.count() == 1
    assert checked.get_attribute("id") == "time-2"
    assert page.locator("[data-details]").is_visible()


def test_it_saves_screenshots_at_phone_and_desktop_widths(
    live_server, calendar, new_page, screenshot
):
    paths = []
    for name, options in [
        ("booking-page-desktop", {}),
        ("booking-page-phone", {"viewport": PHONE, "is_mobile": True, "device_scale_factor": 2}),
    ]:
        page = new_page(timezone_id="Europe/Berlin", **options)
        with page.expect_response(slots_response):
            page.goto(f"{live_server.url}{calendar.scheduling_path()}")
        page.locator(".time-btn").nth(1).click()
        paths.append(screenshot(page, name))

    for path in paths:
        assert_png(path)


def test_it_moves_a_booking_from_the_reschedule_page(live_server, calendar, new_page):
    page = new_page(timezone_id="Europe/Berlin")
    with page.expect_response(slots_response):
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    page.locator(".time-btn").first.click()
    page.get_by_label("Name").fill("Jamie Rivera")
    page.get_by_label("Email").fill("jamie@example.com")
    page.get_by_role("button", name="Confirm booking").click()
    page.wait_for_selector("text=You are booked")
    booking = Booking.objects.get()
    old_start = booking.start

    page.get_by_role("link", name="Reschedule").click()
    page.wait_for_selector("text=Now booked for")
    page.locator(".time-btn").nth(3).click()
    page.get_by_role("button", name="Move my booking").click()
    page.wait_for_selector("text=Your booking was moved")

    booking.refresh_from_db()
    assert booking.start != old_start
    assert booking.status == Booking.Status.CONFIRMED


def test_it_saves_screenshots_of_the_embed_and_the_not_found_page(
    live_server, calendar, new_page, screenshot
):
    embed = new_page(viewport={"width": 720, "height": 900}, timezone_id="Europe/Berlin")
    with embed.expect_response(slots_response):
        embed.goto(f"{live_server.url}{calendar.embed_path()}")
    missing = new_page(viewport=PHONE)
    response = missing.goto(f"{live_server.url}/book/no-such-calendar/")

    assert response.status == 404
    assert_png(screenshot(embed, "embed-page"))
    assert_png(screenshot(missing, "not-found-phone"))
