"""Busy time read from a real CalDAV server (Radicale) and an ICS feed, as the slots see it."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from calendars.connections import connection_sync
from calendars.models import BusyInterval, Connection
from tests.calendars.connected import (
    connect_radicale,
    free_starts,
    ics_reply,
    vcalendar,
    vevent,
)
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)  # a Wednesday
BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY_9_TO_17 = [(weekday, time(9), time(17)) for weekday in range(7)]


@pytest.fixture(autouse=True)
def frozen_now():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


def berlin(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=BERLIN)


def hourly_calendar(owner, **kwargs):
    return CalendarFactory(
        owner=owner,
        timezone="Europe/Berlin",
        duration_minutes=60,
        hours=EVERY_DAY_9_TO_17,
        **kwargs,
    )


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def work(radicale):
    return radicale.make_calendar("work", "Work")


def test_it_blocks_a_timed_event_in_its_own_timezone(client, radicale, work, owner):
    radicale.put_event(
        work,
        "dentist",
        vcalendar(
            vevent(
                "dentist",
                "DTSTART;TZID=America/New_York:20270315T050000",  # 10:00 in Berlin
                "DTEND;TZID=America/New_York:20270315T060000",
                "SUMMARY:Dentist",
            )
        ),
    )
    calendar = hourly_calendar(owner)
    connect_radicale(radicale, owner)

    free = free_starts(client, calendar, "2027-03-15", "2027-03-15")

    assert berlin(15, 10) not in free
    assert {berlin(15, 9), berlin(15, 11)} <= free


def test_it_expands_a_weekly_event_with_an_exception_an_exdate_and_a_dst_change(
    client, radicale, work, owner
):
    # Tuesdays 09:00 Berlin; Berlin moves to summer time on Sunday 2027-03-28, so the
    # 30th's occurrence is at 07:00 UTC where the 16th's was at 08:00 UTC.
    radicale.put_event(
        work,
        "standup",
        vcalendar(
            vevent(
                "standup",
                "DTSTART;TZID=Europe/Berlin:20270316T090000",
                "DTEND;TZID=Europe/Berlin:20270316T100000",
                "RRULE:FREQ=WEEKLY;COUNT=6",
                "EXDATE;TZID=Europe/Berlin:20270323T090000",
                "SUMMARY:Standup",
            ),
            vevent(
                "standup",
                "RECURRENCE-ID;TZID=Europe/Berlin:20270406T090000",
                "DTSTART;TZID=Europe/Berlin:20270406T140000",
                "DTEND;TZID=Europe/Berlin:20270406T150000",
                "SUMMARY:Standup (moved)",
            ),
        ),
    )
    calendar = hourly_calendar(owner)
    connect_radicale(radicale, owner)

    free = free_starts(client, calendar, "2027-03-16", "2027-04-13")

    assert berlin(16, 9) not in free
    assert berlin(23, 9) in free  # EXDATE
    assert berlin(30, 9) not in free  # across the DST change, still 09:00 local
    assert berlin(30, 10) in free
    assert berlin(6, 9, month=4) in free  # moved by its RECURRENCE-ID override...
    assert berlin(6, 14, month=4) not in free  # ...to 14:00
    assert berlin(13, 9, month=4) not in free


def test_it_blocks_the_whole_date_of_an_all_day_event_in_the_calendars_timezone(
    client, radicale, work, owner
):
    radicale.put_event(
        work,
        "holiday",
        vcalendar(vevent("holiday", "DTSTART;VALUE=DATE:20270317", "DTEND;VALUE=DATE:20270318")),
    )
    calendar = hourly_calendar(owner)
    connect_radicale(radicale, owner)

    free = free_starts(client, calendar, "2027-03-16", "2027-03-18")

    assert not {s for s in free if s.astimezone(BERLIN).date().day == 17}
    assert berlin(16, 16) in free
    assert berlin(18, 9) in free


def test_it_ignores_transparent_cancelled_and_its_own_events(client, radicale, work, owner):
    radicale.put_event(
        work,
        "free",
        vcalendar(
            vevent(
                "free",
                "DTSTART:20270318T090000Z",
                "DTEND:20270318T100000Z",
                "TRANSP:TRANSPARENT",
            )
        ),
    )
    radicale.put_event(
        work,
        "off",
        vcalendar(
            vevent("off", "DTSTART:20270318T110000Z", "DTEND:20270318T120000Z", "STATUS:CANCELLED")
        ),
    )
    radicale.put_event(
        work,
        "ours",
        vcalendar(
            vevent(
                "onceslot-booking-7@testserver",
                "DTSTART:20270318T130000Z",
                "DTEND:20270318T140000Z",
            )
        ),
    )
    calendar = hourly_calendar(owner)
    connect_radicale(radicale, owner)

    free = free_starts(client, calendar, "2027-03-18", "2027-03-18")

    assert {berlin(18, 10), berlin(18, 12), berlin(18, 14)} <= free
    assert not BusyInterval.objects.exists()


def test_it_blocks_external_time_with_the_calendars_buffers(client, radicale, work, owner):
    radicale.put_event(
        work,
        "call",
        vcalendar(vevent("call", "DTSTART:20270315T120000Z", "DTEND:20270315T123000Z")),
    )
    calendar = hourly_calendar(owner, buffer_after_minutes=30)
    connect_radicale(radicale, owner)

    free = free_starts(client, calendar, "2027-03-15", "2027-03-15")

    # 13:00-13:30 Berlin is busy: the 12:00 slot (with its 30 minutes after) overlaps it, and
    # so does the 13:00 one; 11:00 ends with its buffer at 12:30, before the event.
    assert berlin(15, 12) not in free
    assert berlin(15, 13) not in free
    assert berlin(15, 11) in free
    assert berlin(15, 14) in free


def test_it_ignores_connected_calendars_when_the_calendar_says_so(client, radicale, work, owner):
    radicale.put_event(
        work,
        "call",
        vcalendar(vevent("call", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z")),
    )
    calendar = hourly_calendar(owner, use_connected_calendars=False)
    connect_radicale(radicale, owner)

    free = free_starts(client, calendar, "2027-03-15", "2027-03-15")

    assert berlin(15, 10) in free


def test_it_does_not_block_other_owners_calendars(client, radicale, work, owner):
    radicale.put_event(
        work,
        "call",
        vcalendar(vevent("call", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z")),
    )
    connect_radicale(radicale, owner)
    someone_else = hourly_calendar(UserFactory())

    assert berlin(15, 10) in free_starts(client, someone_else, "2027-03-15", "2027-03-15")


def test_it_keeps_serving_the_last_good_busy_time_while_the_server_is_down(
    client, radicale, work, owner
):
    radicale.put_event(
        work,
        "call",
        vcalendar(vevent("call", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z")),
    )
    calendar = hourly_calendar(owner)
    connection = connect_radicale(radicale, owner)
    good = connection.last_synced_at
    radicale.stop()

    connection = connection_sync(connection=connection, now=NOW + timedelta(minutes=5))

    connection.refresh_from_db()
    assert connection.status == Connection.Status.ERROR
    assert connection.error == "The server could not be reached."
    assert connection.last_synced_at == good
    assert connection.next_sync_at > NOW + timedelta(minutes=5)
    free = free_starts(client, calendar, "2027-03-15", "2027-03-15")
    assert berlin(15, 10) not in free
    assert berlin(15, 11) in free


def test_it_recovers_when_the_server_is_back(client, radicale, work, owner):
    connection = connect_radicale(radicale, owner)
    radicale.stop()
    connection_sync(connection=connection, now=NOW + timedelta(minutes=5))
    radicale.start()
    radicale.put_event(
        work,
        "call",
        vcalendar(vevent("call", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z")),
    )

    connection = connection_sync(connection=connection, now=NOW + timedelta(minutes=10))

    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK
    assert connection.error == ""
    assert connection.failures == 0
    assert connection.last_synced_at == NOW + timedelta(minutes=10)
    assert BusyInterval.objects.filter(owner=owner).count() == 1


def test_it_backs_off_after_repeated_failures(radicale, work, owner):
    connection = connect_radicale(radicale, owner)
    radicale.stop()
    waits = []
    for _ in range(3):
        connection = connection_sync(connection=connection, now=NOW)
        waits.append(connection.next_sync_at - NOW)

    assert waits == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]


def test_it_skips_a_calendar_whose_sync_token_has_not_changed(radicale, work, owner):
    radicale.put_event(
        work,
        "call",
        vcalendar(vevent("call", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z")),
    )
    connection = connect_radicale(radicale, owner)
    # A row the server does not have: a sync that read the calendar again would drop it.
    marker = BusyInterval.objects.get()
    BusyInterval.objects.create(
        calendar=marker.calendar, owner=owner, start=NOW, end=NOW + timedelta(hours=1)
    )

    connection_sync(connection=connection, now=NOW + timedelta(minutes=5))
    assert BusyInterval.objects.count() == 2

    radicale.put_event(
        work, "new", vcalendar(vevent("new", "DTSTART:20270316T090000Z", "DTEND:20270316T100000Z"))
    )
    connection_sync(connection=connection, now=NOW + timedelta(minutes=10))
    assert sorted(BusyInterval.objects.values_list("start", flat=True)) == [
        datetime(2027, 3, 15, 9, tzinfo=UTC),
        datetime(2027, 3, 16, 9, tzinfo=UTC),
    ]


def test_it_leaves_out_calendars_that_are_not_ticked_busy(client, radicale, work, owner):
    private = radicale.make_calendar("private", "Private")
    radicale.put_event(
        private,
        "secret",
        vcalendar(vevent("secret", "DTSTART:20270315T090000Z", "DTEND:20270315T100000Z")),
    )
    calendar = hourly_calendar(owner)
    connection = connect_radicale(radicale, owner)
    from calendars.connections import connection_update_calendars

    connection_update_calendars(connection=connection, calendars=[{"url": private, "busy": False}])

    assert berlin(15, 10) in free_starts(client, calendar, "2027-03-15", "2027-03-15")
    assert not BusyInterval.objects.exists()


# -- ICS subscriptions ----------------------------------------------------------------------


FEED = "/basic.ics"


def test_it_reads_an_ics_subscription_with_googles_x_wr_timezone(client, ics_server, owner):
    # Google writes floating-looking times with the zone in X-WR-TIMEZONE.
    ics_server.answers[FEED] = ics_reply(
        vcalendar(
            vevent("g1", "DTSTART:20270315T100000", "DTEND:20270315T110000"),
            extra="X-WR-CALNAME:Google\r\nX-WR-TIMEZONE:America/New_York\r\n",
        ).encode()
    )
    calendar = hourly_calendar(owner)
    from calendars.connections import connection_create

    connection = connection_create(owner=owner, kind="ics", url=ics_server.url + FEED)

    assert connection.status == Connection.Status.OK
    assert [(c.name, c.write) for c in connection.calendars.all()] == [("Google", False)]
    free = free_starts(client, calendar, "2027-03-15", "2027-03-15")
    # 10:00 New York (EDT since March 14) is 15:00 in Berlin (still CET).
    assert berlin(15, 15) not in free
    assert berlin(15, 10) in free


def test_it_marks_an_ics_file_that_stops_parsing_as_an_error(ics_server, owner):
    ics_server.answers[FEED] = ics_reply(
        vcalendar(vevent("g1", "DTSTART:20270315T100000Z", "DTEND:20270315T110000Z")).encode()
    )
    from calendars.connections import connection_create

    connection = connection_create(owner=owner, kind="ics", url=ics_server.url + FEED)
    ics_server.answers[FEED] = ics_reply(b"<html>Sign in</html>")

    connection = connection_sync(connection=connection, now=NOW + timedelta(minutes=5))

    assert connection.status == Connection.Status.ERROR
    assert "iCalendar" in connection.error
    assert BusyInterval.objects.count() == 1  # the last good data stays


def test_it_enqueues_each_due_connection_once_across_overlapping_runs(owner):
    from calendars.tasks import sync_due_connections
    from tests.calendars.factories import ConnectionFactory

    ConnectionFactory(owner=owner, next_sync_at=None)
    ConnectionFactory(owner=owner, next_sync_at=NOW - timedelta(seconds=1))
    ConnectionFactory(owner=owner, next_sync_at=NOW + timedelta(minutes=3))

    assert sync_due_connections() == 2
    assert sync_due_connections() == 0
