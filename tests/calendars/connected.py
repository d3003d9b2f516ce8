"""Helpers for connected-calendar tests: iCalendar texts, a connection made through the
service against a real server, an ICS feed at a secret address, and the free slots of a
calendar as UTC datetimes."""

from datetime import datetime

from django.urls import reverse

from calendars.connections import connection_create
from calendars.models import ConnectedCalendar
from tests.http_server import HttpServer, Reply

# Shaped like Google's "Secret address in iCal format": whoever holds it reads the calendar.
SECRET_FEED = "/calendar/ical/ana%40example.com/private-5f1c0e9a7b3d4e2f8a6b0c1d2e3f4a5b/basic.ics"


def vevent(uid: str, *lines: str) -> str:
    body = "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", *lines])
    return f"{body}\r\nEND:VEVENT\r\n"


def vcalendar(*events: str, extra: str = "") -> str:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Test//EN\r\n" + extra
    return head + "".join(events) + "END:VCALENDAR\r\n"


def ics_reply(body: bytes) -> Reply:
    return Reply(headers={"Content-Type": "text/calendar"}, body=body)


def serve_ics(server: HttpServer, *events: str, path: str = SECRET_FEED, extra: str = "") -> str:
    """Serves a calendar of `events` at `path` of the server; returns its address."""
    server.answers[path] = ics_reply(vcalendar(*events, extra=extra).encode())
    return server.url + path


def connect_radicale(radicale, owner, **kwargs):
    return connection_create(
        owner=owner,
        kind="caldav",
        url=radicale.url,
        username=radicale.username,
        password=radicale.password,
        **kwargs,
    )


def connected_calendar(url: str, **filters) -> ConnectedCalendar:
    """The one stored calendar with this URL among those `filters` select, matched in Python:
    the column holds ciphertext, different at every write."""
    [found] = [c for c in ConnectedCalendar.objects.filter(**filters) if c.url == url]
    return found


def free_starts(client, calendar, first: str, last: str) -> set[datetime]:
    """The calendar's free slot starts on local dates first..last, from the public API."""
    url = reverse("bookings:api-calendar-slots", kwargs={"slug": calendar.slug})
    response = client.get(url, {"start": first, "end": last})
    assert response.status_code == 200, response.content
    return {
        datetime.fromisoformat(start)
        for starts in response.json()["slots"].values()
        for start in starts
    }
