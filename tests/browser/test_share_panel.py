"""The Share panel's One-Time Link tab end to end, in a real headless Chromium.

Staff log in, open the Share panel, generate a link and copy it; an invitee books through
it; reopening the link shows the expired page.
"""

from datetime import time

import pytest

from bookings.models import Booking, BookingSource, OneTimeLink
from tests.bookings.factories import OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def calendar(transactional_db):
    owner = UserFactory(
        username="robin", first_name="Robin", last_name="Okafor", email="robin@example.com"
    )
    return CalendarFactory(
        owner=owner,
        name="Intro call",
        slug="intro",
        timezone="UTC",
        hours=[(weekday, time(8), time(18)) for weekday in range(7)],
    )


def test_it_generates_copies_and_consumes_a_one_time_link(
    live_server, calendar, new_page, screenshot, settings
):
    settings.SITE_URL = live_server.url
    staff = new_page()
    staff.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # Staff log in and open the calendar's Share panel.
    staff.goto(
        f"{live_server.url}/admin/login/?next=/admin/bookings/onetimelink/share/{calendar.pk}/"
    )
    staff.fill("#id_username", "robin")
    staff.fill("#id_password", "pw")
    staff.click("input[type=submit]")
    staff.wait_for_url(f"**/share/{calendar.pk}/")
    staff.get_by_role("tab", name="One-Time Link").click()
    assert staff.locator("#panel-one-time").is_visible()
    assert staff.locator("#panel-scheduling").is_hidden()
    assert staff.locator("#share-no-active-link").is_visible()

    # Generate a link and copy it.
    staff.get_by_role("button", name="Generate new link").click()
    staff.wait_for_selector("text=New one-time link generated.")
    url_input = staff.locator("#share-one-time-url")
    assert url_input.is_visible()
    shown_url = url_input.input_value()
    staff.locator('[data-copy-target="share-one-time-url"]').click()
    staff.wait_for_selector('[data-copy-target="share-one-time-url"][data-copied="true"]')
    copied = staff.evaluate("navigator.clipboard.readText()")
    assert copied == shown_url
    link = OneTimeLink.objects.get(calendar=calendar)
    assert copied == f"{live_server.url}/l/{link.token}/"
    screenshot(staff, "share-panel-one-time-link")

    # An invitee books through it.
    invitee = new_page(timezone_id="UTC")
    invitee.goto(copied)
    assert invitee.locator("h1").inner_text() == "Intro call"
    invitee.locator(".time-btn").first.click()
    invitee.get_by_label("Name").fill("Jamie Rivera")
    invitee.get_by_label("Email").fill("jamie@example.com")
    invitee.get_by_role("button", name="Confirm booking").click()
    invitee.wait_for_selector("text=You are booked")

    booking = Booking.objects.get()
    assert booking.source == BookingSource.ONE_TIME_LINK
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED
    assert link.bookings.get() == booking

    # Reopening the link shows the expired page, naming the owner.
    response = invitee.goto(copied)
    assert response.status == 410
    assert invitee.locator("h1").inner_text() == "This link has been used"
    assert "Robin Okafor" in invitee.locator("main").inner_text()
    assert invitee.locator('a[href="mailto:robin@example.com"]').is_visible()
    screenshot(invitee, "one-time-link-expired")

    # Back in the Share panel the link is listed as used, with its booking.
    staff.reload()
    staff.get_by_role("tab", name="One-Time Link").click()
    assert staff.locator(f"#share-link-{link.pk}").get_attribute("data-state") == "used"
    assert staff.locator("#share-no-active-link").is_visible()


def test_it_copies_with_the_textarea_fallback_without_the_clipboard_api(
    live_server, calendar, new_page, client
):
    client.force_login(calendar.owner)
    page = new_page()
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    # As on an admin served over plain HTTP: no navigator.clipboard.
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")

    page.goto(f"{live_server.url}/admin/bookings/onetimelink/share/{calendar.pk}/")
    page.get_by_role("tab", name="Embed code").click()
    page.locator('[data-copy-target="share-embed-code"]').click()

    page.wait_for_selector('[data-copy-target="share-embed-code"][data-copied="true"]')
    assert f"/embed/{calendar.slug}/" in page.locator("#share-embed-code").input_value()
    assert page.locator("#panel-one-time").is_hidden()


def test_it_asks_before_revoking_a_one_time_link_on_the_share_panel(
    live_server, calendar, new_page
):
    link = OneTimeLinkFactory(calendar=calendar, label="For Jamie")
    staff = new_page()
    staff.goto(
        f"{live_server.url}/admin/login/?next=/admin/bookings/onetimelink/share/{calendar.pk}/"
    )
    staff.fill("#id_username", "robin")
    staff.fill("#id_password", "pw")
    staff.click("input[type=submit]")
    staff.wait_for_url(f"**/share/{calendar.pk}/")
    staff.get_by_role("tab", name="One-Time Link").click()
    revoke = staff.locator(f'form:has(input[name=link][value="{link.pk}"]) button')

    questions = []
    staff.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    revoke.click()
    link.refresh_from_db()
    assert questions and "Revoke this one-time link?" in questions[0]
    assert link.revoked_at is None

    staff.once("dialog", lambda dialog: dialog.accept())
    with staff.expect_navigation():
        revoke.click()
    link.refresh_from_db()
    assert link.revoked_at is not None
