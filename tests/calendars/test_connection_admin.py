"""The "Connected calendars" admin page against a real Radicale and a loopback ICS feed, and
the Share panel's feed."""

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.urls import reverse

from calendars.connections import connection_create
from calendars.models import Connection
from tests.calendars.connected import connect_radicale, serve_ics, vevent
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.db_dump import database_dump, url_secrets_in

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/calendars/connection/add/"
LIST_PAGE = "/admin/calendars/connection/"
EVENT = vevent("e1", "DTSTART:20270315T100000Z", "DTEND:20270315T110000Z")


@pytest.fixture
def staff():
    return UserFactory()


@pytest.fixture
def browser(client, staff):
    client.force_login(staff)
    return client


def post_calendar_ticks(browser, connection, calendar, *, busy=False, write=False):
    """The connection's change form with its one calendar's busy/write boxes as given."""
    prefix = "calendars"
    data = {
        "new_password": "",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-id": str(calendar.pk),
        f"{prefix}-0-connection": str(connection.pk),
    }
    data.update(
        {f"{prefix}-0-{name}": "on" for name, on in (("busy", busy), ("write", write)) if on}
    )
    return browser.post(reverse("admin:calendars_connection_change", args=[connection.pk]), data)


def test_it_adds_a_caldav_connection_from_the_admin(browser, radicale, staff):
    radicale.make_calendar("work", "Work")

    response = browser.post(
        ADD_URL,
        {
            "kind": "caldav",
            "url": radicale.url,
            "username": radicale.username,
            "password": radicale.password,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get()
    assert connection.owner == staff
    assert connection.status == Connection.Status.OK
    assert list(connection.calendars.values_list("name", "busy")) == [("Work", True)]


def test_it_shows_a_refused_password_on_the_add_form(browser, radicale):
    radicale.make_calendar("work")

    response = browser.post(
        ADD_URL,
        {"kind": "caldav", "url": radicale.url, "username": radicale.username, "password": "no"},
    )

    assert response.status_code == 200
    assert "username or password" in response.content.decode()
    assert radicale.password not in response.content.decode()
    assert not Connection.objects.exists()


def test_it_shows_status_and_never_the_password_on_the_change_page(browser, radicale, staff):
    radicale.make_calendar("work", "Work")
    connection = connect_radicale(radicale, staff)

    response = browser.get(reverse("admin:calendars_connection_change", args=[connection.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Sync now" in page
    assert "Work" in page
    assert radicale.password not in page
    assert connection.password_encrypted not in page


def test_it_shows_only_the_host_of_an_ics_address(browser, ics_server, staff):
    url = serve_ics(ics_server, EVENT)
    connection = connection_create(owner=staff, kind="ics", url=url)

    listed = browser.get(LIST_PAGE).content.decode()
    changed = browser.get(reverse("admin:calendars_connection_change", args=[connection.pk]))

    page = changed.content.decode()
    assert changed.status_code == 200
    assert "ICS subscription: 127.0.0.1" in listed
    assert "127.0.0.1" in page
    assert url_secrets_in(listed + page, url) == []
    assert connection.url_encrypted not in page


def test_it_keeps_the_ics_address_out_of_the_admin_history(browser, ics_server, staff):
    url = serve_ics(ics_server, EVENT)
    browser.post(ADD_URL, {"kind": "ics", "url": url, "username": "", "password": ""})
    connection = Connection.objects.get()
    calendar = connection.calendars.get()

    response = post_calendar_ticks(browser, connection, calendar)

    assert response.status_code == 302, response.content.decode()[:3000]
    calendar.refresh_from_db()
    assert calendar.busy is False
    history = LogEntry.objects.filter(object_id=str(connection.pk))
    assert [e.action_flag for e in history.order_by("pk")] == [ADDITION, CHANGE]
    assert url_secrets_in(database_dump(), url) == []


def test_it_ticks_the_write_calendar_from_the_admin(browser, radicale, staff):
    url = radicale.make_calendar("work", "Work")
    connection = connect_radicale(radicale, staff)
    calendar = connection.calendars.get()

    response = post_calendar_ticks(browser, connection, calendar, busy=True, write=True)

    assert response.status_code == 302, response.content.decode()[:3000]
    calendar.refresh_from_db()
    assert (calendar.url, calendar.write) == (url, True)


def test_it_syncs_now_from_the_admin_and_reports_an_error(browser, radicale, staff):
    radicale.make_calendar("work")
    connection = connect_radicale(radicale, staff)
    radicale.stop()

    response = browser.post(
        reverse("admin:calendars_connection_sync", args=[connection.pk]), follow=True
    )

    assert response.status_code == 200
    assert "The server could not be reached." in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ERROR


def test_it_answers_404_for_another_users_connection_in_the_admin(browser, radicale):
    radicale.make_calendar("work")
    connection = connect_radicale(radicale, UserFactory())

    change = browser.get(reverse("admin:calendars_connection_change", args=[connection.pk]))
    sync = browser.post(reverse("admin:calendars_connection_sync", args=[connection.pk]))

    assert change.status_code in (302, 404)  # the admin redirects to its index for unknown ids
    assert sync.status_code == 404


def test_it_removes_a_connection_from_the_admin(browser, radicale, staff):
    radicale.make_calendar("work")
    connection = connect_radicale(radicale, staff)

    response = browser.post(
        reverse("admin:calendars_connection_delete", args=[connection.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Connection.objects.exists()


def test_it_shows_and_replaces_the_feed_in_the_share_panel(browser, client, staff):
    calendar = CalendarFactory(owner=staff)
    share = reverse("admin:calendar-share", kwargs={"calendar_id": calendar.pk})
    old = calendar.feed_path()

    page = browser.get(share).content.decode()
    assert f"http://testserver{old}" in page

    response = browser.post(share, {"action": "replace-feed"})

    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.feed_path() != old
    assert client.get(old).status_code == 404
