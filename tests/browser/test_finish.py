"""What a new user tripped over in a real browser: Back after booking, the phone layout,
the embed's height, the reschedule page's timezone."""

from contextlib import ExitStack
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings.models import Booking, OutboxMessage
from calendars.selectors import calendar_embed_code
from config.i18n import format_time
from tests.bookings.factories import BookingFactory
from tests.browser.conftest import PHONE, assert_png
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.http_server import HttpServer, Reply

pytestmark = pytest.mark.browser


@pytest.fixture
def calendar(transactional_db):
    return CalendarFactory(
        owner=UserFactory(first_name="Robin", last_name="Okafor"),
        name="Intro call",
        slug="intro",
        timezone="UTC",
        duration_minutes=30,
        description="A first chat about your project.",
        hours=[(weekday, time(8), time(18)) for weekday in range(7)],
    )


def slots_response(response) -> bool:
    return "/slots/" in response.url and response.status == 200


def book_first_time(page) -> None:
    page.locator(".time-btn").first.click()
    page.get_by_label("Name").fill("Jamie Rivera")
    page.get_by_label("Email").fill("jamie@example.com")
    page.get_by_role("button", name="Confirm booking").click()
    page.wait_for_selector("text=You are booked")


@pytest.fixture
def host_site():
    """A third-party site on another origin (its own loopback server: Chromium lets a page on
    a loopback address frame another loopback origin). host_site(html) -> its URL."""
    with ExitStack() as servers:

        def serve(html: str) -> str:
            page = Reply(headers={"Content-Type": "text/html; charset=utf-8"}, body=html.encode())
            return servers.enter_context(HttpServer(default=page)).url + "/"

        yield serve


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            return box.top >= 0 && box.top < window.innerHeight;
        }""",
        selector,
    )


def test_it_tells_an_invitee_who_goes_back_after_booking_that_they_are_booked(
    live_server, calendar, new_page, screenshot
):
    page = new_page(timezone_id="UTC")
    page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    book_first_time(page)
    confirmation = page.url

    page.go_back()
    page.wait_for_selector("[data-booked]")

    text = page.locator("main").inner_text()
    assert "You are booked for" in text
    assert "no longer free" not in text
    link = page.get_by_role("link", name="See your booking")
    assert link.get_attribute("href") in confirmation
    assert_png(screenshot(page, "back-after-booking"))
    link.click()
    page.wait_for_selector("text=You are booked")
    assert Booking.objects.count() == 1


def test_it_brings_the_details_into_view_on_a_phone_and_back_to_the_times(
    live_server, calendar, new_page
):
    page = new_page(viewport=PHONE, is_mobile=True, timezone_id="UTC")
    page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    assert not in_viewport(page, "[data-details] h2") or page.locator("[data-details]").is_hidden()

    page.locator(".time-btn").first.click()
    page.wait_for_function(
        "() => { const b = document.querySelector('[data-details] h2').getBoundingClientRect();"
        " return b.top >= 0 && b.bottom <= window.innerHeight; }"
    )

    page.get_by_role("link", name="Change time").click()
    page.wait_for_function(
        "() => { const b = document.querySelector('[data-times]').getBoundingClientRect();"
        " return b.top >= -1 && b.top < window.innerHeight / 2; }"
    )


def test_it_grows_the_embed_frame_to_its_content_so_confirm_is_visible(
    live_server, calendar, new_page, screenshot, settings, host_site
):
    settings.SITE_URL = live_server.url
    page = new_page(viewport=PHONE, timezone_id="UTC")
    embed = calendar_embed_code(calendar=calendar)
    html = f"<!doctype html><title>Host</title><h1>Our site</h1>{embed}<p>Footer</p>"
    page.goto(host_site(html))
    frame = page.frame_locator("iframe")
    frame.locator(".time-btn").first.click()

    # The frame grows to the page inside it: no inner scroll, the button inside the frame.
    page.wait_for_function(
        "() => document.querySelector('iframe').getBoundingClientRect().height > 900"
    )
    inner = page.frames[1]
    inner.wait_for_function("() => document.documentElement.scrollHeight <= window.innerHeight + 1")
    frame_box = page.locator("iframe").bounding_box()
    button_box = frame.get_by_role("button", name="Confirm booking").bounding_box()
    assert button_box["y"] + button_box["height"] <= frame_box["y"] + frame_box["height"]
    assert_png(screenshot(page, "embed-grown-phone"))


def test_it_keeps_an_inner_scroll_without_the_embed_script(
    live_server, calendar, new_page, host_site
):
    page = new_page(viewport=PHONE, timezone_id="UTC")
    src = f"{live_server.url}{calendar.embed_path()}"
    html = f'<!doctype html><iframe src="{src}" style="width:100%;height:640px;border:0"></iframe>'
    page.goto(host_site(html))
    page.frame_locator("iframe").locator(".time-btn").first.click()

    assert page.locator("iframe").bounding_box()["height"] == 640
    inner = page.frames[1]
    assert inner.evaluate("document.documentElement.scrollHeight > window.innerHeight")


def test_it_reschedules_in_the_timezone_the_invitee_booked_in(live_server, calendar, new_page):
    page = new_page(timezone_id="America/New_York")
    with page.expect_response(slots_response):
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    page.wait_for_function(
        "document.querySelector('[data-tz-select]').value === 'America/New_York'"
    )
    book_first_time(page)
    booking = Booking.objects.get()
    assert booking.timezone == "America/New_York"

    # Later, from a browser in another zone.
    other = new_page(timezone_id="Asia/Tokyo")
    other.goto(f"{live_server.url}/b/{booking.token}/reschedule/")
    other.wait_for_load_state("networkidle")
    assert other.locator("[data-tz-select]").input_value() == "America/New_York"
    assert "America/New York" in other.locator("[data-tz-label]").first.inner_text()
    chosen = other.locator(".time-btn").nth(2)
    label = chosen.inner_text()
    chosen.click()
    other.get_by_role("button", name="Move my booking").click()
    other.wait_for_selector("text=Your booking was moved")

    booking.refresh_from_db()
    local = booking.start.astimezone(ZoneInfo("America/New_York"))
    body = other.locator("main").inner_text()
    assert "(America/New York)" in body
    assert format_time(local, 12) == label  # en-US reads 12-hour times
    moved = OutboxMessage.objects.filter(key__contains=":rescheduled:", to=booking.invitee_email)
    assert "(America/New_York)" in moved.get().subject


def test_it_finds_a_timezone_by_typing_and_lists_the_browsers_first(
    live_server, calendar, new_page, screenshot
):
    page = new_page(timezone_id="Europe/Berlin")
    with page.expect_response(slots_response):
        page.goto(f"{live_server.url}{calendar.scheduling_path()}")
    page.wait_for_function("document.querySelector('[data-tz-select]').value === 'Europe/Berlin'")
    first = page.locator("[data-tz-select] optgroup").first
    assert first.get_attribute("label") == "Your time zone"
    assert first.locator("option").get_attribute("value") == "Europe/Berlin"

    page.locator("[data-tz-search]").fill("tokyo")
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('[data-tz-select] option'))"
        ".filter(o => !o.hidden).map(o => o.value)"
    )
    assert visible == ["Asia/Tokyo"]
    with page.expect_response(slots_response):
        page.locator("[data-tz-search]").press("Enter")
    page.wait_for_url("**tz=Asia%2FTokyo**")
    assert "Asia/Tokyo" in page.locator("[data-tz-label]").inner_text().replace(" ", "_")
    assert_png(screenshot(page, "timezone-picker"))


def test_it_saves_a_screenshot_of_the_staff_home(live_server, calendar, new_page, screenshot):
    owner = calendar.owner
    owner.set_password("a-good-long-password")
    owner.save()
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    BookingFactory(calendar=calendar, start=soon, invitee_name="Jamie Rivera")
    page = new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill("a-good-long-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("#staff-home")

    assert "Jamie Rivera" in page.locator("#staff-home").inner_text()
    assert page.get_by_role("link", name="Share panel").count() == 1
    assert_png(screenshot(page, "staff-home"))
