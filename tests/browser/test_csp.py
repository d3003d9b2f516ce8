"""Stored XSS and the Content-Security-Policy, in a real headless Chromium (issue 13).

An invitee books with script in every free-text field, staff put script in a calendar's
name and description, a link's label, a workflow's name and texts; then every admin and
public page that shows them is opened. No script runs (the payloads would set
window.__xss or call a local beacon server), and no page reports a CSP violation or a
console error: the pages, the admin extras and the API docs all work under the policy.
"""

from datetime import UTC, datetime, time, timedelta

import pytest
from rest_framework.test import APIClient

from bookings.models import Booking, OutboxMessage
from bookings.services.one_time_links import one_time_link_generate
from contacts.models import Contact
from tests.calendars.factories import CalendarFactory, ConnectedCalendarFactory, UserFactory
from tests.http_server import HttpServer, Reply, Request
from tests.workflows.support import make_workflow, run_queued
from workflows.models import Enrollment
from workflows.services import enrollment_create

pytestmark = pytest.mark.browser

# Records what the page reports; runs in every document before its own scripts.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`);
});
"""


def frame_or_hit(request: Request) -> Reply:
    if request.path.startswith("/frame?"):
        # Another site framing one of our pages.
        frame = f'<iframe src="{request.path[7:]}"></iframe>'
        return Reply(headers={"Content-Type": "text/html"}, body=frame.encode())
    return Reply(204)


@pytest.fixture
def beacon():
    """A local HTTP server a payload would call: it must never hear from the browser."""
    with HttpServer(default=frame_or_hit) as server:
        yield server


def payloads(beacon_url: str, where: str) -> str:
    """Script in every form a page could turn into markup (an event handler, a script tag,
    a broken-out attribute), each calling the beacon and setting window.__xss."""
    call = f"window.__xss='{where}';fetch('{beacon_url}/{where}')"
    return f'{where} <img src=x onerror="{call}"> <script>{call}</script> "\'><svg onload="{call}">'


SHORT = "<img src=x onerror=window.__xss=1>"  # for fields of 40 characters


@pytest.fixture
def stage(transactional_db, beacon, settings, live_server):
    """Everything the pages show, each free-text field holding script."""
    settings.SITE_URL = live_server.url
    owner = UserFactory(username="robin", is_superuser=True, email="robin@example.com")
    calendar = CalendarFactory(
        owner=owner,
        name=payloads(beacon.url, "calname")[:120],
        description=payloads(beacon.url, "caldesc"),
        slug="xss",
        timezone="UTC",
        hours=[(weekday, time(8), time(18)) for weekday in range(7)],
    )
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(12), tzinfo=UTC)
    response = APIClient().post(
        "/api/public/calendars/xss/bookings/",
        {
            "start": start.isoformat(),
            # The contact takes the words after the first as its last name (100 at most).
            "name": f"Jamie {SHORT} <script>window.__xss=2</script>",
            "email": "invitee@example.com",
            "phone": SHORT,
            "notes": payloads(beacon.url, "notes"),
            "timezone": "UTC",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    booking = Booking.objects.get()
    contact = Contact.objects.get()
    contact.first_name = payloads(beacon.url, "first")[:100]
    contact.last_name = payloads(beacon.url, "last")[:100]
    contact.save()
    link = one_time_link_generate(
        calendar=calendar,
        created_by=owner,
        contact=contact,
        label=payloads(beacon.url, "label")[:200],
    )
    workflow = make_workflow(
        user=owner,
        name=payloads(beacon.url, "wfname")[:200],
        actions=[
            {"key": "tag", "type": "add_tag", "config": {"tag": SHORT}},
            {
                "key": "email",
                "type": "send_email",
                "config": {
                    "subject": payloads(beacon.url, "subject"),
                    "body": payloads(beacon.url, "body") + " {{ contact.first_name }}",
                    "body_html": "<p>{{ contact.last_name }}</p>" + payloads(beacon.url, "html"),
                },
            },
        ],
    )
    connected = ConnectedCalendarFactory(
        connection__owner=owner,
        connection__username=payloads(beacon.url, "caluser")[:200],
        connection__error=payloads(beacon.url, "calerror"),
        name=payloads(beacon.url, "calname2")[:200],
    )
    enrollment_create(workflow=workflow, contact=contact, trigger_type="manual")
    run_queued()
    assert Enrollment.objects.get().status == "completed"
    assert OutboxMessage.objects.filter(template="workflow_email").exists()
    return {
        "owner": owner,
        "calendar": calendar,
        "booking": booking,
        "contact": contact,
        "link": link,
        "workflow": workflow,
        "week": start.date().isoformat(),
        "connection": connected.connection,
    }


def admin_pages(stage) -> list[str]:
    calendar, booking, workflow = stage["calendar"], stage["booking"], stage["workflow"]
    pages = [
        "/admin/",
        "/admin/bookings/booking/",
        f"/admin/bookings/booking/{booking.pk}/change/",
        f"/admin/bookings/booking/week/{calendar.pk}/?week={stage['week']}",
        f"/admin/bookings/booking/book/?calendar={calendar.pk}",
        "/admin/bookings/outboxmessage/",
        "/admin/bookings/onetimelink/",
        f"/admin/bookings/onetimelink/{stage['link'].pk}/change/",
        f"/admin/bookings/onetimelink/share/{calendar.pk}/",
        "/admin/calendars/calendar/",
        f"/admin/calendars/calendar/{calendar.pk}/change/",
        "/admin/contacts/contact/",
        f"/admin/contacts/contact/{stage['contact'].pk}/change/",
        "/admin/workflows/workflow/",
        f"/admin/workflows/workflow/{workflow.pk}/change/",
        "/admin/workflows/enrollment/",
        "/admin/accounts/apitoken/",
        "/admin/calendars/connection/",
        f"/admin/calendars/connection/{stage['connection'].pk}/change/",
        "/admin/calendars/connection/add/",
    ]
    pages += [
        f"/admin/bookings/outboxmessage/{pk}/change/"
        for pk in OutboxMessage.objects.values_list("pk", flat=True)
    ]
    return pages


def public_pages(stage) -> list[str]:
    calendar, token = stage["calendar"], stage["booking"].token
    return [
        "/book/xss/",
        f"/c/{calendar.public_id}/",
        "/embed/xss/",
        f"/b/{token}/",
        f"/b/{token}/?embed=1",
        f"/b/{token}/cancel/",
        f"/b/{token}/reschedule/",
        f"/l/{stage['link'].token}/",
    ]


def open_and_check(page, url: str, console: list[str]) -> None:
    console.clear()
    response = page.goto(url, wait_until="networkidle")
    assert response.status == 200, url
    assert page.evaluate("window.__xss") is None, url
    assert page.evaluate("window.__csp") == [], url
    assert console == [], url


@pytest.fixture
def watched(new_page):
    def make(**options):
        tab = new_page(**options)
        tab.add_init_script(WATCH)
        console: list[str] = []

        def on_console(message) -> None:
            # The browser asks for /favicon.ico by itself; the admin has none (a 404).
            if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
                console.append(f"{message.text} ({message.location['url']})")

        tab.on("console", on_console)
        tab.on("pageerror", lambda e: console.append(str(e)))
        return tab, console

    return make


def signed_in(tab, client, live_server, user) -> None:
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    tab.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_it_runs_no_script_from_stored_input_on_admin_pages(
    live_server, stage, watched, client, beacon
):
    tab, console = watched()
    signed_in(tab, client, live_server, stage["owner"])

    for path in admin_pages(stage):
        open_and_check(tab, live_server.url + path, console)

    assert beacon.requests == []


def test_it_runs_no_script_from_stored_input_on_public_pages(live_server, stage, watched, beacon):
    tab, console = watched()

    for path in public_pages(stage):
        open_and_check(tab, live_server.url + path, console)

    assert beacon.requests == []


def test_it_shows_the_payloads_as_text(live_server, stage, watched, client):
    tab, _console = watched()
    signed_in(tab, client, live_server, stage["owner"])

    tab.goto(f"{live_server.url}/admin/bookings/booking/{stage['booking'].pk}/change/")

    assert "<img src=x onerror=" in tab.locator("#content").inner_text()
    assert tab.locator("#content img[src=x]").count() == 0


def test_it_blocks_injected_inline_script_even_if_escaping_failed(
    live_server, stage, watched, client, beacon
):
    tab, _console = watched()
    signed_in(tab, client, live_server, stage["owner"])
    tab.goto(f"{live_server.url}/admin/bookings/booking/", wait_until="networkidle")

    tab.evaluate(
        """(url) => document.body.insertAdjacentHTML('beforeend',
           `<img src=x onerror="window.__xss=1;fetch('${url}/injected')">`)""",
        beacon.url,
    )
    tab.wait_for_function("window.__csp.length > 0")

    assert tab.evaluate("window.__xss") is None
    assert any("script-src" in v for v in tab.evaluate("window.__csp"))
    assert beacon.requests == []


def test_it_renders_the_api_docs_under_the_policy(live_server, stage, watched, client):
    tab, console = watched()
    signed_in(tab, client, live_server, stage["owner"])

    tab.goto(f"{live_server.url}/api/docs/", wait_until="networkidle")
    tab.wait_for_selector(".opblock")

    assert tab.locator(".opblock").count() > 10
    assert tab.evaluate("window.__csp") == []
    assert console == []


def test_it_switches_the_week_views_calendar_without_inline_script(
    live_server, stage, watched, client
):
    other = CalendarFactory(owner=stage["owner"], name="Second calendar", slug="second")
    tab, console = watched()
    signed_in(tab, client, live_server, stage["owner"])
    tab.goto(f"{live_server.url}/admin/bookings/booking/week/{stage['calendar'].pk}/")

    tab.select_option("#week-calendar", label="Second calendar")

    tab.wait_for_url(f"**/week/{other.pk}/**")
    assert tab.evaluate("window.__csp") == []
    assert console == []


def framed(tab, beacon, url: str):
    """`url` framed by a page of another origin: the frame."""
    tab.goto(f"{beacon.url}/frame?{url}", wait_until="networkidle")
    [frame] = tab.main_frame.child_frames
    return frame


def test_it_lets_other_sites_frame_the_embed_only(live_server, stage, new_page, beacon):
    tab = new_page()

    embed = framed(tab, beacon, f"{live_server.url}/embed/xss/")
    assert embed.url == f"{live_server.url}/embed/xss/"
    assert embed.locator("h1").count() == 1  # the booking page, inside the other site

    page = framed(tab, beacon, f"{live_server.url}/book/xss/")
    # Refused: the browser shows its own error page in the frame instead.
    assert page.url != f"{live_server.url}/book/xss/"
    assert page.url.startswith("chrome-error://")
