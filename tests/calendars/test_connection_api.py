"""The connections API: /api/connections/ against a real Radicale and a loopback ICS feed
(issue 15 shapes)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from calendars.connections import connection_create
from calendars.models import BusyInterval, ConnectedCalendar, Connection
from tests.calendars.connected import (
    connect_radicale,
    connected_calendar,
    serve_ics,
    vcalendar,
    vevent,
)
from tests.calendars.factories import UserFactory
from tests.calendars.test_calendar_api import client_for
from tests.db_dump import database_dump, url_secrets_in

pytestmark = pytest.mark.django_db

LIST_URL = "/api/connections/"
EVENT = vevent("e1", "DTSTART:20270315T100000Z", "DTEND:20270315T110000Z")


@pytest.fixture
def staff():
    return UserFactory()


@pytest.fixture
def api(staff) -> APIClient:
    return client_for(staff)


def caldav_payload(radicale, **changes) -> dict:
    return {
        "kind": "caldav",
        "url": radicale.url,
        "username": radicale.username,
        "password": radicale.password,
        **changes,
    }


def test_it_connects_a_caldav_account_and_answers_its_calendars(api, radicale, staff):
    work = radicale.make_calendar("work", "Work")
    home = radicale.make_calendar("home", "Home")

    response = api.post(LIST_URL, caldav_payload(radicale), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id",
        "kind",
        "url",
        "username",
        "status",
        "error",
        "last_synced_at",
        "calendars",
    }
    assert body["kind"] == "caldav"
    assert body["username"] == radicale.username
    assert body["status"] == "ok"
    assert body["error"] == ""
    assert body["last_synced_at"]
    assert sorted(body["calendars"], key=lambda c: c["name"]) == [
        {"url": home, "name": "Home", "busy": True, "write": False},
        {"url": work, "name": "Work", "busy": True, "write": False},
    ]
    connection = Connection.objects.get(pk=body["id"])
    assert connection.owner == staff
    assert connection.password == radicale.password


def test_it_never_answers_the_password(api, radicale):
    radicale.make_calendar("work")
    created = api.post(LIST_URL, caldav_payload(radicale), format="json").json()

    listed = api.get(LIST_URL).content.decode()
    shown = api.get(f"{LIST_URL}{created['id']}/").content.decode()

    assert "password" not in created
    assert radicale.password not in listed
    assert radicale.password not in shown


def test_it_keeps_the_password_and_the_ics_address_out_of_a_database_dump(
    api, radicale, ics_server
):
    radicale.make_calendar("work")
    ics_url = serve_ics(ics_server, EVENT)

    api.post(LIST_URL, caldav_payload(radicale), format="json")
    api.post(LIST_URL, {"kind": "ics", "url": ics_url}, format="json")

    dump = database_dump()
    assert "password_encrypted" in dump and "url_encrypted" in dump
    assert Connection.objects.count() == 2
    assert radicale.password not in dump
    assert url_secrets_in(dump, ics_url) == []


def test_it_answers_an_ics_subscriptions_address_to_its_owner(api, ics_server):
    url = serve_ics(ics_server, EVENT, extra="X-WR-CALNAME:Ana's Google\r\n")

    created = api.post(LIST_URL, {"kind": "ics", "url": url}, format="json")
    shown = api.get(f"{LIST_URL}{created.json()['id']}/")

    assert created.status_code == 201, created.json()
    assert shown.json() == created.json()
    assert created.json() == {
        "id": created.json()["id"],
        "kind": "ics",
        "url": url,
        "username": "",
        "status": "ok",
        "error": "",
        "last_synced_at": created.json()["last_synced_at"],
        "calendars": [{"url": url, "name": "Ana's Google", "busy": True, "write": False}],
    }


def test_it_ticks_an_ics_calendar_by_its_address_in_a_patch(api, ics_server, staff):
    url = serve_ics(ics_server, EVENT)
    connection = connection_create(owner=staff, kind="ics", url=url)

    response = api.patch(
        f"{LIST_URL}{connection.pk}/", {"calendars": [{"url": url, "busy": False}]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["calendars"] == [
        {"url": url, "name": "ICS subscription", "busy": False, "write": False}
    ]
    assert connection.calendars.get().busy is False


def test_it_refuses_a_wrong_password_with_a_message_on_the_field(api, radicale):
    radicale.make_calendar("work")

    response = api.post(LIST_URL, caldav_payload(radicale, password="wrong"), format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["password"]
    assert "username or password" in response.json()["password"][0]
    assert not Connection.objects.exists()


def test_it_refuses_an_unreachable_server(api, radicale):
    radicale.stop()

    response = api.post(LIST_URL, caldav_payload(radicale), format="json")

    assert response.status_code == 400
    assert response.json() == {"url": ["The server could not be reached."]}


def test_it_refuses_a_url_that_is_not_http(api):
    response = api.post(
        LIST_URL,
        {"kind": "caldav", "url": "ftp://example.com/", "username": "a", "password": "b"},
        format="json",
    )

    assert response.status_code == 400
    assert "url" in response.json()


def test_it_refuses_a_username_of_two_lines(api):
    response = api.post(
        LIST_URL,
        {
            "kind": "caldav",
            "url": "https://dav.example.com/",
            "username": "robin\nInjected: header",
            "password": "b",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "username" in response.json()
    assert not Connection.objects.exists()


@override_settings(CALENDAR_CONNECTION_ALLOW_PRIVATE=False)
def test_it_refuses_a_loopback_caldav_address_by_default(api, radicale):
    radicale.make_calendar("work")

    response = api.post(LIST_URL, caldav_payload(radicale), format="json")

    assert response.status_code == 400
    assert "private or local network" in response.json()["url"][0]


@override_settings(CALENDAR_CONNECTION_ALLOW_PRIVATE=False)
def test_it_refuses_a_loopback_ics_address_by_default(api, radicale):
    response = api.post(LIST_URL, {"kind": "ics", "url": radicale.url}, format="json")

    assert response.status_code == 400
    assert "private or local network" in response.json()["url"][0]


def test_it_refuses_an_ics_address_that_serves_no_calendar(api, radicale):
    # Radicale's root answers a web page to a plain GET.
    response = api.post(LIST_URL, {"kind": "ics", "url": radicale.url}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["url"]


def test_it_ticks_busy_and_chooses_one_write_calendar_across_connections(api, radicale, staff):
    work = radicale.make_calendar("work", "Work")
    home = radicale.make_calendar("home", "Home")
    first = connect_radicale(radicale, staff)
    second = connect_radicale(radicale, staff)
    ConnectedCalendar.objects.filter(pk=connected_calendar(work, connection=first).pk).update(
        write=True
    )

    response = api.patch(
        f"{LIST_URL}{second.pk}/",
        {"calendars": [{"url": home, "busy": False, "write": True}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    home_entry = next(c for c in response.json()["calendars"] if c["url"] == home)
    assert home_entry == {"url": home, "name": "Home", "busy": False, "write": True}
    writes = ConnectedCalendar.objects.filter(owner=staff, write=True)
    assert [(c.connection_id, c.url) for c in writes] == [(second.pk, home)]


def test_it_refuses_an_unknown_calendar_url_in_a_patch(api, radicale, staff):
    radicale.make_calendar("work")
    connection = connect_radicale(radicale, staff)

    response = api.patch(
        f"{LIST_URL}{connection.pk}/",
        {"calendars": [{"url": "http://elsewhere/", "busy": True}]},
        format="json",
    )

    assert response.status_code == 400
    assert "calendars" in response.json()


def test_it_removes_a_connection_with_its_busy_time(api, radicale, staff):
    work = radicale.make_calendar("work")
    radicale.put_event(
        work, "e", vcalendar(vevent("e", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z"))
    )
    connection = connect_radicale(radicale, staff, now=datetime(2027, 3, 10, tzinfo=UTC))
    assert BusyInterval.objects.exists()

    response = api.delete(f"{LIST_URL}{connection.pk}/")

    assert response.status_code == 204
    assert not Connection.objects.exists()
    assert not BusyInterval.objects.exists()


def test_it_syncs_now_and_answers_the_error_when_the_server_is_down(api, radicale, staff):
    radicale.make_calendar("work")
    connection = connect_radicale(radicale, staff)
    radicale.stop()

    response = api.post(f"{LIST_URL}{connection.pk}/sync/")

    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["error"] == "The server could not be reached."
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ERROR


def test_it_syncs_now(api, radicale, staff):
    work = radicale.make_calendar("work")
    connection = connect_radicale(radicale, staff)
    soon = (timezone.now() + timedelta(days=3)).strftime("%Y%m%dT090000Z")
    radicale.put_event(work, "e", vcalendar(vevent("e", f"DTSTART:{soon}", "DURATION:PT1H")))

    response = api.post(f"{LIST_URL}{connection.pk}/sync/")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert BusyInterval.objects.filter(owner=staff).count() == 1


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("delete", ""), ("post", "sync/")],
)
def test_it_answers_404_for_another_staff_users_connection(radicale, method, suffix):
    radicale.make_calendar("work")
    connection = connect_radicale(radicale, UserFactory())
    intruder = client_for(UserFactory())

    response = getattr(intruder, method)(
        f"{LIST_URL}{connection.pk}/{suffix}", {"calendars": []}, format="json"
    )

    assert response.status_code == 404
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_it_lists_only_the_users_own_connections(api, radicale, staff):
    radicale.make_calendar("work")
    mine = connect_radicale(radicale, staff)
    connect_radicale(radicale, UserFactory())

    response = api.get(LIST_URL)

    assert [c["id"] for c in response.json()] == [mine.pk]


def test_it_shows_a_superuser_every_connection(radicale):
    radicale.make_calendar("work")
    connect_radicale(radicale, UserFactory())
    admin = UserFactory(is_superuser=True)

    assert len(client_for(admin).get(LIST_URL).json()) == 1


def test_it_refuses_anonymous_requests():
    assert APIClient().get(LIST_URL).status_code in (401, 403)
