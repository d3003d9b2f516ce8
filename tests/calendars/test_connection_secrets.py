"""Connection addresses at rest: Fernet ciphertext in `url_encrypted` (an ICS subscription's
address is its only key), readable after a key rotation, shown as a host, never logged."""

import logging
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings

from calendars import remote
from calendars.connections import UNREADABLE, connection_create, connection_sync
from calendars.models import ConnectedCalendar, Connection
from tests.calendars.connected import SECRET_FEED, serve_ics, vevent
from tests.calendars.factories import ConnectedCalendarFactory, ConnectionFactory, UserFactory
from tests.calendars.test_calendar_api import client_for
from tests.db_dump import url_secrets_in
from tests.http_server import Reply

pytestmark = pytest.mark.django_db

SECRET_URL = (
    "https://calendar.example.com/calendar/ical/ana%40example.com"
    "/private-0123456789abcdef0123456789abcdef/basic.ics"
)
OLD_KEY = "the key the values were written under, long enough to be a key"
NEW_KEY = "the key after the rotation, also long enough to be a real key"

EVENT = vevent("e1", "DTSTART:20270315T100000Z", "DTEND:20270315T110000Z")


def raw_rows() -> str:
    return str(list(Connection.objects.values())) + str(list(ConnectedCalendar.objects.values()))


@pytest.mark.parametrize("kind", [Connection.Kind.ICS, Connection.Kind.CALDAV])
def test_it_stores_every_connection_address_as_ciphertext_whatever_the_kind(kind):
    ConnectedCalendarFactory(connection__kind=kind, connection__url=SECRET_URL, url=SECRET_URL)

    assert url_secrets_in(raw_rows(), SECRET_URL) == []
    assert Connection.objects.get().url == SECRET_URL
    assert ConnectedCalendar.objects.get().url == SECRET_URL


def test_it_reads_an_address_encrypted_under_a_key_now_in_the_fallbacks():
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        ConnectionFactory(url=SECRET_URL)

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        assert Connection.objects.get().url == SECRET_URL


def test_it_syncs_a_subscription_encrypted_under_a_key_now_in_the_fallbacks(ics_server):
    url = serve_ics(ics_server, EVENT)
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        connection = connection_create(owner=UserFactory(), kind="ics", url=url)

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        connection = connection_sync(connection=Connection.objects.get(pk=connection.pk))

    assert connection.status == Connection.Status.OK, connection.error
    assert [r.path for r in ics_server.requests] == [SECRET_FEED, SECRET_FEED]


def test_it_marks_a_connection_whose_address_no_key_opens_as_an_error():
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        calendar = ConnectedCalendarFactory(connection__url=SECRET_URL, url=SECRET_URL)

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        connection = connection_sync(connection=Connection.objects.get(pk=calendar.connection_id))

    connection.refresh_from_db()
    assert (connection.status, connection.error) == (Connection.Status.ERROR, UNREADABLE)


def test_it_still_lists_a_connection_whose_address_no_key_opens():
    owner = UserFactory()
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        ConnectedCalendarFactory(connection__owner=owner, connection__url=SECRET_URL)

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        response = client_for(owner).get("/api/connections/")
        named = str(Connection.objects.get())

    assert response.status_code == 200
    [listed] = response.json()
    assert (listed["url"], listed["calendars"][0]["url"]) == ("", "")
    assert named == "ICS subscription: (address unreadable)"


def test_it_names_a_connection_and_its_calendar_by_the_host_only():
    calendar = ConnectedCalendarFactory(
        connection__kind=Connection.Kind.CALDAV,
        connection__url="https://ana:hunter2@dav.example.com/private-token/",
        connection__username="ana",
        url="https://ana:hunter2@dav.example.com/private-token/home/",
        name="",
    )

    assert str(calendar.connection) == "CalDAV: ana at dav.example.com"
    assert str(calendar) == "dav.example.com"


def test_it_refuses_an_address_that_is_not_a_url_on_the_url_field():
    with pytest.raises(ValidationError) as refused:
        connection_create(owner=UserFactory(), kind="ics", url="not a calendar address")

    assert refused.value.message_dict == {"url": ["Enter a valid URL."]}
    assert not Connection.objects.exists()


def test_it_keeps_one_calendar_per_address_of_a_connection(monkeypatch):
    home = "https://dav.example.com/ana/home/"
    listed = [
        remote.RemoteCalendar(url=home, name="Home"),
        remote.RemoteCalendar(url="https://dav.example.com/ana/work/", name="Work"),
        remote.RemoteCalendar(url=home, name="Home"),
    ]
    monkeypatch.setattr(remote, "caldav_discover", lambda **kwargs: listed)
    monkeypatch.setattr(remote, "caldav_read", lambda **kwargs: ("", []))

    connection = connection_create(
        owner=UserFactory(),
        kind="caldav",
        url="https://dav.example.com/",
        username="ana",
        password="app password",
    )

    assert sorted(c.url for c in connection.calendars.all()) == [
        home,
        "https://dav.example.com/ana/work/",
    ]


def test_it_logs_no_part_of_a_subscriptions_address(ics_server, caplog):
    caplog.set_level(logging.DEBUG)
    url = serve_ics(ics_server, EVENT)
    connection = connection_create(owner=UserFactory(), kind="ics", url=url)
    ics_server.answers[SECRET_FEED] = Reply(status=500)

    connection = connection_sync(connection=connection)

    assert connection.status == Connection.Status.ERROR
    assert caplog.records  # the failure was logged
    assert url_secrets_in(caplog.text, url) == []


def test_it_reencrypts_every_secret_so_the_old_key_can_go():
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        calendar = ConnectedCalendarFactory(connection__url=SECRET_URL, url=SECRET_URL + "/a")
        calendar.connection.password = "app-password"
        calendar.connection.save()
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        call_command("reencrypt_connection_secrets", stdout=StringIO())
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        connection = Connection.objects.get()
        assert (connection.url, connection.password) == (SECRET_URL, "app-password")
        assert ConnectedCalendar.objects.get().url == SECRET_URL + "/a"


def test_it_names_the_rows_no_key_opens_and_reencrypts_the_rest():
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        lost = ConnectionFactory(url=SECRET_URL)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        kept = ConnectionFactory(url=SECRET_URL + "?kept")
        stored = dict(Connection.objects.values_list("pk", "url_encrypted"))
        with pytest.raises(CommandError, match=f"Connection {lost.pk}"):
            call_command("reencrypt_connection_secrets", stdout=StringIO())
        assert Connection.objects.get(pk=lost.pk).url_encrypted == stored[lost.pk]
        assert Connection.objects.get(pk=kept.pk).url_encrypted != stored[kept.pk]
        assert Connection.objects.get(pk=kept.pk).url == SECRET_URL + "?kept"
