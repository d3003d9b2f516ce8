"""Helpers for connected-calendar tests: iCalendar texts, a connection made through the
service against a real server, and the free slots of a calendar as UTC datetimes."""

from datetime import datetime

from django.urls import reverse

from calendars.connections import connection_create


def vevent(uid: str, *lines: str) -> str:
    body = "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", *lines])
    return f"{body}\r\nEND:VEVENT\r\n"


def vcalendar(*events: str, extra: str = "") -> str:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Test//EN\r\n" + extra
    return head + "".join(events) + "END:VCALENDAR\r\n"


def connect_radicale(radicale, owner, **kwargs):
    return connection_create(
        owner=owner,
        kind="caldav",
        url=radicale.url,
        username=radicale.username,
        password=radicale.password,
        **kwargs,
    )


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
