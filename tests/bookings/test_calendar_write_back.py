"""Bookings written back to the owner's CalDAV write calendar (a real Radicale), and the
private ICS feed of a calendar's bookings."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from bookings.calendar_sync import booking_calendar_push
from bookings.models import BookingSource
from bookings.services.bookings import booking_cancel, booking_create, booking_reschedule
from bookings.tasks import (
    WRITE_BACK_RETRIES,
    push_booking_to_calendar,
    remove_deleted_booking_event,
)
from calendars import remote
from calendars.connections import connection_sync, connection_update_calendars
from calendars.models import BusyInterval, ConnectedCalendar
from tests.bookings.factories import BookingFactory
from tests.calendars.connected import connect_radicale, connected_calendar
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def write_calendar(radicale, owner):
    url = radicale.make_calendar("work", "Work")
    connection = connect_radicale(radicale, owner)
    ConnectedCalendar.objects.filter(pk=connected_calendar(url, connection=connection).pk).update(
        write=True
    )
    return url


def book(calendar, start=SLOT, **kwargs):
    values = {
        "name": "Jamie Rivera",
        "email": "jamie@example.com",
        "timezone": "Europe/Berlin",
        "source": BookingSource.SCHEDULING_LINK,
        "notes": "About the roof",
        "now": NOW,
    }
    values.update(kwargs)
    return booking_create(calendar=calendar, start=start, **values)


def events_in(radicale, url) -> list[icalendar.Event]:
    events = []
    for text in radicale.event_files(url):
        events += icalendar.Calendar.from_ical(text).walk("VEVENT")
    return events


def test_it_writes_a_booking_into_the_write_calendar(radicale, owner, write_calendar):
    calendar = CalendarFactory(owner=owner, name="Roof consult")
    booking = book(calendar)

    assert booking_calendar_push(booking_id=booking.pk) == "written"

    [event] = events_in(radicale, write_calendar)
    assert event["SUMMARY"] == "Jamie Rivera · Roof consult"
    assert event.decoded("DTSTART") == SLOT
    assert event.decoded("DTEND") == SLOT + timedelta(minutes=30)
    assert "About the roof" in event["DESCRIPTION"]
    assert f"/admin/bookings/booking/{booking.pk}/change/" in event["DESCRIPTION"]
    # Neither the UID nor the text carries the invitee's token.
    assert str(event["UID"]) == f"onceslot-booking-{booking.pk}@testserver"
    text = "".join(radicale.event_files(write_calendar))
    assert booking.token not in text
    assert booking.locator not in text


def test_it_leaves_one_event_when_the_task_runs_twice(radicale, owner, write_calendar):
    booking = book(CalendarFactory(owner=owner))

    push_booking_to_calendar.apply(args=[booking.pk])
    push_booking_to_calendar.apply(args=[booking.pk])

    assert len(events_in(radicale, write_calendar)) == 1


def test_it_moves_the_event_on_reschedule(radicale, owner, write_calendar):
    booking = book(CalendarFactory(owner=owner))
    booking_calendar_push(booking_id=booking.pk)

    booking_reschedule(booking=booking, start=SLOT + timedelta(hours=2), now=NOW)
    booking_calendar_push(booking_id=booking.pk)

    [event] = events_in(radicale, write_calendar)
    assert event.decoded("DTSTART") == SLOT + timedelta(hours=2)


def test_it_deletes_the_event_on_cancel(radicale, owner, write_calendar):
    booking = book(CalendarFactory(owner=owner))
    booking_calendar_push(booking_id=booking.pk)

    booking_cancel(booking=booking, reason="Ill")

    assert booking_calendar_push(booking_id=booking.pk) == "deleted"
    assert events_in(radicale, write_calendar) == []
    assert booking_calendar_push(booking_id=booking.pk) == "no event"  # a second run: fine


def test_it_does_not_block_the_booking_twice_after_the_sync_reads_it_back(
    radicale, owner, write_calendar
):
    calendar = CalendarFactory(owner=owner)
    booking = book(calendar)
    booking_calendar_push(booking_id=booking.pk)
    connection = connected_calendar(write_calendar).connection

    connection_sync(connection=connection, now=NOW)

    assert connection.status == "ok"
    assert not BusyInterval.objects.exists()


def test_it_does_nothing_without_a_write_calendar(owner):
    booking = BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT)

    assert booking_calendar_push(booking_id=booking.pk) == "no write calendar"


def test_it_retries_when_the_server_is_down_then_gives_up(radicale, owner, write_calendar, caplog):
    booking = book(CalendarFactory(owner=owner))
    radicale.stop()
    caplog.set_level("INFO", logger="bookings.tasks")

    # Run eagerly from its second-to-last retry: one more try, then the error stands.
    result = push_booking_to_calendar.apply(args=[booking.pk], retries=WRITE_BACK_RETRIES - 1)

    assert result.state == "FAILURE"
    tries = [r for r in caplog.records if "to its calendar failed" in r.getMessage()]
    assert len(tries) == 2


def test_it_enqueues_the_write_back_after_commit_only_for_owners_with_a_write_calendar(
    radicale, owner, write_calendar, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(push_booking_to_calendar, "delay", enqueued.append)
    other = CalendarFactory()

    with django_capture_on_commit_callbacks(execute=True):
        mine = book(CalendarFactory(owner=owner))
        book(other, email="x@example.com")

    assert enqueued == [mine.pk]


# -- the write calendar changes -------------------------------------------------------------


@pytest.fixture
def home_calendar(radicale, owner, write_calendar):
    """A second calendar of the same account, beside the write calendar ("work"), made
    after the connection was: recorded as its discovery would have."""
    url = radicale.make_calendar("home", "Home")
    connection = connected_calendar(write_calendar).connection
    ConnectedCalendar.objects.create(
        connection=connection, owner=owner, url=url, name="Home", busy=False
    )
    return url


def write_to(url: str) -> None:
    target = connected_calendar(url)
    connection_update_calendars(
        connection=target.connection, calendars=[{"url": url, "write": True}]
    )


def stop_writing(url: str) -> None:
    target = connected_calendar(url)
    connection_update_calendars(
        connection=target.connection, calendars=[{"url": url, "write": False}]
    )


def test_it_moves_an_upcoming_event_to_a_new_write_calendar(
    radicale, owner, write_calendar, home_calendar
):
    booking = book(CalendarFactory(owner=owner))
    booking_calendar_push(booking_id=booking.pk)

    write_to(home_calendar)

    assert booking_calendar_push(booking_id=booking.pk) == "moved"
    assert events_in(radicale, write_calendar) == []
    [event] = events_in(radicale, home_calendar)
    assert event.decoded("DTSTART") == SLOT


def test_it_enqueues_the_upcoming_bookings_when_the_write_calendar_changes(
    owner, write_calendar, home_calendar, django_capture_on_commit_callbacks, monkeypatch
):
    calendar = CalendarFactory(owner=owner)
    upcoming = BookingFactory(calendar=calendar, start=SLOT)
    BookingFactory(calendar=calendar, start=NOW - timedelta(days=2))  # stays where it is
    BookingFactory(calendar=calendar, start=SLOT + timedelta(hours=1), status="cancelled")
    enqueued = []
    monkeypatch.setattr(push_booking_to_calendar, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        write_to(home_calendar)

    assert enqueued == [upcoming.pk]


def test_it_writes_upcoming_bookings_when_a_write_calendar_is_first_chosen(
    radicale, owner, django_capture_on_commit_callbacks, monkeypatch
):
    url = radicale.make_calendar("work", "Work")
    connect_radicale(radicale, owner)
    booking = book(CalendarFactory(owner=owner))
    assert booking_calendar_push(booking_id=booking.pk) == "no write calendar"
    enqueued = []
    monkeypatch.setattr(push_booking_to_calendar, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        write_to(url)

    assert enqueued == [booking.pk]
    assert booking_calendar_push(booking_id=booking.pk) == "written"
    assert len(events_in(radicale, url)) == 1


def test_it_enqueues_nothing_when_the_owner_stops_writing(
    owner, write_calendar, django_capture_on_commit_callbacks, monkeypatch
):
    BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT)
    enqueued = []
    monkeypatch.setattr(push_booking_to_calendar, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        stop_writing(write_calendar)

    assert enqueued == []


def test_it_deletes_a_cancelled_event_from_the_calendar_it_was_written_to(
    radicale, owner, write_calendar, home_calendar
):
    booking = book(CalendarFactory(owner=owner))
    booking_calendar_push(booking_id=booking.pk)
    write_to(home_calendar)  # its move not run yet

    booking_cancel(booking=booking)

    assert booking_calendar_push(booking_id=booking.pk) == "deleted"
    assert events_in(radicale, write_calendar) == []
    assert events_in(radicale, home_calendar) == []


def test_it_keeps_a_written_event_up_to_date_after_the_owner_stops_writing(
    radicale, owner, write_calendar, django_capture_on_commit_callbacks, monkeypatch
):
    booking = book(CalendarFactory(owner=owner))
    booking_calendar_push(booking_id=booking.pk)
    stop_writing(write_calendar)
    enqueued = []
    monkeypatch.setattr(push_booking_to_calendar, "delay", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=SLOT + timedelta(hours=2), now=NOW)

    assert enqueued == [booking.pk]
    assert booking_calendar_push(booking_id=booking.pk) == "written"
    [event] = events_in(radicale, write_calendar)
    assert event.decoded("DTSTART") == SLOT + timedelta(hours=2)


def test_it_ends_on_a_cancel_that_lands_while_the_event_is_being_written(
    radicale, owner, write_calendar, monkeypatch
):
    booking = book(CalendarFactory(owner=owner))
    put = remote.caldav_put

    def put_then_cancel(**kwargs):
        put(**kwargs)
        monkeypatch.setattr(remote, "caldav_put", put)
        booking_cancel(booking=booking)  # committed while the first run talks to the server

    monkeypatch.setattr(remote, "caldav_put", put_then_cancel)

    assert booking_calendar_push(booking_id=booking.pk) == "deleted"
    assert events_in(radicale, write_calendar) == []


def test_it_removes_the_event_of_a_deleted_booking(
    radicale, owner, write_calendar, django_capture_on_commit_callbacks, monkeypatch
):
    booking = book(CalendarFactory(owner=owner))
    booking_calendar_push(booking_id=booking.pk)
    held, booking_id = connected_calendar(write_calendar).pk, booking.pk
    enqueued = []
    monkeypatch.setattr(remove_deleted_booking_event, "delay", lambda *a: enqueued.append(a))

    with django_capture_on_commit_callbacks(execute=True):
        booking.delete()  # a superuser's delete in the admin

    assert enqueued == [(held, booking_id)]
    assert remove_deleted_booking_event.apply(args=enqueued[0]).get() == "deleted"
    assert events_in(radicale, write_calendar) == []


# -- the feed -----------------------------------------------------------------------------


def test_it_serves_the_calendars_confirmed_bookings_as_a_feed(client):
    calendar = CalendarFactory(name="Roof consult")
    booking = BookingFactory(calendar=calendar, start=SLOT, invitee_name="Jamie Rivera")
    BookingFactory(calendar=calendar, start=SLOT + timedelta(hours=1), status="cancelled")
    BookingFactory(start=SLOT)  # another calendar's

    response = client.get(calendar.feed_path())

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    feed = icalendar.Calendar.from_ical(response.content)
    [event] = feed.walk("VEVENT")
    assert event["SUMMARY"] == "Jamie Rivera · Roof consult"
    assert event.decoded("DTSTART") == SLOT
    assert str(event["UID"]) == f"onceslot-booking-{booking.pk}@testserver"
    assert booking.token.encode() not in response.content


def test_it_answers_404_for_a_forged_or_malformed_feed_token(client):
    calendar = CalendarFactory()
    token = calendar.feed_token
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    assert client.get(f"/feeds/{forged}.ics").status_code == 404
    assert client.get("/feeds/short.ics").status_code == 404


def test_it_replaces_the_feed_token_and_the_old_url_answers_404(client):
    calendar = CalendarFactory()
    staff = APIClient()
    staff.force_authenticate(calendar.owner)
    old = calendar.feed_path()

    response = staff.post(f"/api/calendars/{calendar.pk}/feed/regenerate/")

    assert response.status_code == 200
    calendar.refresh_from_db()
    assert response.json()["links"]["feed"] == "http://testserver" + calendar.feed_path()
    assert calendar.feed_path() != old
    assert client.get(old).status_code == 404
    assert client.get(calendar.feed_path()).status_code == 200


def test_it_answers_404_when_another_staff_user_replaces_a_feed():
    calendar = CalendarFactory()
    intruder = APIClient()
    intruder.force_authenticate(UserFactory())
    old = calendar.feed_locator

    response = intruder.post(f"/api/calendars/{calendar.pk}/feed/regenerate/")

    assert response.status_code == 404
    calendar.refresh_from_db()
    assert calendar.feed_locator == old


def test_it_answers_the_feed_link_and_the_opt_out_in_the_calendar_api():
    calendar = CalendarFactory()
    staff = APIClient()
    staff.force_authenticate(calendar.owner)

    response = staff.patch(
        f"/api/calendars/{calendar.pk}/", {"use_connected_calendars": False}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["use_connected_calendars"] is False
    assert response.json()["links"]["feed"].endswith(".ics")
    calendar.refresh_from_db()
    assert calendar.use_connected_calendars is False
