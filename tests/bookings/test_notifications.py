from datetime import UTC, datetime, timedelta
from unittest import mock

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Booking, BookingSource, OutboxMessage
from bookings.notifications import booking_notify
from bookings.services.bookings import booking_cancel, booking_create, booking_reschedule
from bookings.services.outbox import outbox_render
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
START = datetime(2027, 3, 15, 14, 0, tzinfo=UTC)  # Monday: 15:00 Berlin, 10:00 New York


@pytest.fixture
def calendar():
    owner = UserFactory(email="owner@example.com", first_name="Ada", last_name="Owner")
    # Open 09:00-17:00 New York time on weekdays, so START (10:00 there) is bookable.
    return CalendarFactory(owner=owner, name="Roof consult", timezone="America/New_York")


@pytest.fixture
def booking(calendar):
    with time_machine.travel(NOW, tick=False):
        return BookingFactory(
            calendar=calendar,
            start=START,
            invitee_name="Jamie Rivera",
            invitee_email="jamie@example.com",
            timezone="Europe/Berlin",
        )


def rows() -> dict[str, OutboxMessage]:
    """The recorded rows by recipient, rendered as the delivery task renders them."""
    return {
        row.key.rsplit(":", 1)[1]: outbox_render(message=row) for row in OutboxMessage.objects.all()
    }


def test_it_records_an_invitee_and_an_owner_message():
    calendar = CalendarFactory(owner=UserFactory(email="owner@example.com"))
    booking = BookingFactory(calendar=calendar, invitee_email="jamie@example.com")

    booking_notify(booking=booking, event="confirmed")

    found = rows()
    assert found["invitee"].key == f"booking:{booking.locator}:confirmed:invitee"
    assert found["invitee"].to == "jamie@example.com"
    assert found["owner"].key == f"booking:{booking.locator}:confirmed:owner"
    assert found["owner"].to == "owner@example.com"
    assert {row.status for row in found.values()} == {OutboxMessage.Status.PENDING}


def test_it_shows_the_invitee_their_own_timezone(booking):
    booking_notify(booking=booking, event="confirmed")

    message = rows()["invitee"]
    assert "Monday, 15 March 2027, 15:00\N{EN DASH}15:30 (Europe/Berlin)" in message.body_text
    assert "Monday, 15 March 2027, 15:00\N{EN DASH}15:30 (Europe/Berlin)" in message.body_html
    assert (
        message.subject == "Confirmed: Roof consult on Monday, 15 March 2027, 15:00 (Europe/Berlin)"
    )


def test_it_shows_the_owner_the_calendar_timezone(booking):
    booking_notify(booking=booking, event="confirmed")

    text = rows()["owner"].body_text
    assert "When: Monday, 15 March 2027, 10:00\N{EN DASH}10:30 (America/New_York)" in text
    assert "Their time: Monday, 15 March 2027, 15:00\N{EN DASH}15:30 (Europe/Berlin)" in text
    message = rows()["owner"]
    assert message.subject.startswith("New booking: Jamie Rivera, Monday, 15 March 2027, 10:00")


def test_it_puts_absolute_manage_links_in_text_and_html(booking):
    booking_notify(booking=booking, event="confirmed")

    message = rows()["invitee"]
    for name in ("booking", "cancel", "reschedule", "ics"):
        url = "http://testserver" + reverse(f"bookings:{name}", kwargs={"token": booking.token})
        assert url in message.body_text
        assert f'href="{url}"' in message.body_html
    assert "https://calendar.google.com/calendar/render?" in message.body_text


def test_it_gives_the_owner_the_admin_link_not_the_invitee_secret(booking):
    booking_notify(booking=booking, event="confirmed")

    message = rows()["owner"]
    admin_url = "http://testserver" + reverse("admin:bookings_booking_change", args=[booking.pk])
    assert admin_url in message.body_text
    assert booking.token not in message.body_text + message.body_html + message.ics


def test_it_escapes_invitee_input_in_html_only(calendar):
    booking = BookingFactory(
        calendar=calendar, invitee_name="<b>Jamie</b>", notes="<script>x</script>"
    )

    booking_notify(booking=booking, event="confirmed")

    owner = rows()["owner"]
    assert "<script>" not in owner.body_html
    assert "&lt;script&gt;" in owner.body_html
    assert "Notes: <script>x</script>" in owner.body_text


def test_it_attaches_a_request_invite_with_the_booking_times(booking):
    booking_notify(booking=booking, event="confirmed")

    message = rows()["invitee"]
    cal = icalendar.Calendar.from_ical(message.ics)
    [event] = cal.walk("VEVENT")
    assert message.ics_method == "REQUEST"
    assert str(cal["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == START
    assert event.decoded("SEQUENCE") == 0


def test_it_records_one_row_per_recipient_when_told_twice(booking):
    booking_notify(booking=booking, event="confirmed")
    booking_notify(booking=booking, event="confirmed")

    assert OutboxMessage.objects.count() == 2


def test_it_skips_the_owner_without_an_email(calendar, booking):
    calendar.owner.email = ""
    calendar.owner.save()
    booking.refresh_from_db()

    booking_notify(booking=booking, event="confirmed")

    assert list(rows()) == ["invitee"]


def test_it_sends_a_cancel_invite_when_cancelled(booking):
    booking.status = Booking.Status.CANCELLED
    booking.cancelled_at = NOW + timedelta(hours=1)
    booking.save()

    booking_notify(booking=booking, event="cancelled")

    found = rows()
    assert {row.ics_method for row in found.values()} == {"CANCEL"}
    assert found["invitee"].subject.startswith("Cancelled: Roof consult")
    assert "cancelled" in found["invitee"].body_text
    [event] = icalendar.Calendar.from_ical(found["invitee"].ics).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") > 0


def test_it_records_every_move_of_a_rescheduled_booking(booking):
    moves = [START + timedelta(days=1), START, START + timedelta(days=1)]  # and back again

    for minutes, start in enumerate(moves, start=1):
        booking.start, booking.end = start, start + timedelta(minutes=30)
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            booking_notify(booking=booking, event="rescheduled")

    invitee_rows = OutboxMessage.objects.filter(key__endswith=":invitee").order_by("key")
    assert invitee_rows.count() == 3
    sequences = sorted(
        icalendar.Calendar.from_ical(outbox_render(message=row).ics)
        .walk("VEVENT")[0]
        .decoded("SEQUENCE")
        for row in invitee_rows
    )
    assert sequences == [60, 120, 180]


def test_it_refuses_an_unknown_event(booking):
    with pytest.raises(ValueError, match="event"):
        booking_notify(booking=booking, event="deleted")


# Through the booking services: the rows commit with the booking, delivery after commit.


@pytest.fixture
def delay():
    with mock.patch("bookings.tasks.deliver_outbox_messages.delay") as delay:
        yield delay


def test_it_enqueues_delivery_of_a_new_booking_after_commit(
    calendar, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = booking_create(
            calendar=calendar,
            start=START,
            name="Jamie Rivera",
            email="jamie@example.com",
            timezone="Europe/Berlin",
            source=BookingSource.SCHEDULING_LINK,
            now=NOW,
        )
        assert delay.call_count == 0

    for callback in callbacks:
        callback()
    ids = sorted(
        OutboxMessage.objects.filter(key__startswith=f"booking:{booking.locator}:").values_list(
            "pk", flat=True
        )
    )
    assert len(ids) == 2
    # One task for the event's two emails.
    delay.assert_called_once_with(ids)


def test_it_records_cancel_and_reschedule_emails_through_the_services(
    calendar, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            calendar=calendar,
            start=START,
            name="Jamie Rivera",
            email="jamie@example.com",
            timezone="Europe/Berlin",
            source=BookingSource.SCHEDULING_LINK,
            now=NOW,
        )
        booking = booking_reschedule(booking=booking, start=START + timedelta(hours=1), now=NOW)
        booking_cancel(booking=booking, reason="Ill")

    events = sorted(
        row.key.split(":")[2] for row in OutboxMessage.objects.filter(key__endswith=":invitee")
    )
    assert events == ["cancelled", "confirmed", "rescheduled"]
    assert delay.call_count == 3
    assert sorted(len(call.args[0]) for call in delay.call_args_list) == [2, 2, 2]


def test_it_records_the_rows_for_the_worker_to_render(booking):
    booking_notify(booking=booking, event="confirmed")

    invitee = OutboxMessage.objects.get(key__endswith=":invitee")
    assert (
        invitee.subject == "Confirmed: Roof consult on Monday, 15 March 2027, 15:00 (Europe/Berlin)"
    )
    assert (invitee.body_text, invitee.body_html, invitee.ics) == ("", "", "")
    assert invitee.ics_method == "REQUEST"
    assert invitee.needs_rendering


def test_it_renders_without_storing_the_text(booking):
    booking_notify(booking=booking, event="confirmed")
    row = OutboxMessage.objects.get(key__endswith=":invitee")

    message = outbox_render(message=row)

    assert "Your booking is confirmed." in message.body_text
    assert "BEGIN:VCALENDAR" in message.ics
    row.refresh_from_db()
    assert (row.body_text, row.body_html, row.ics) == ("", "", "")


def test_it_renders_a_row_recorded_before_its_booking_was_saved(calendar):
    # booking_create sends the booking's INSERT and its emails' together: the rows name
    # the booking by its locator, not by an id it does not have yet.
    with time_machine.travel(NOW, tick=False):
        booking = BookingFactory.build(
            calendar=calendar, start=START, end=START + timedelta(minutes=30)
        )
        booking_notify(booking=booking, event="confirmed")
        booking.save()

    message = rows()["invitee"]

    assert booking.locator in OutboxMessage.objects.get(key__endswith=":invitee").key
    assert "Your booking is confirmed." in message.body_text


def test_it_renders_a_row_recorded_under_the_booking_id(booking):
    # Rows recorded before keys and snapshots named the locator hold the booking's id.
    booking_notify(booking=booking, event="confirmed")
    row = OutboxMessage.objects.get(key__endswith=":invitee")
    context = {k: v for k, v in row.context.items() if k != "locator"}
    row.context = {**context, "booking": booking.pk}
    row.save()

    message = outbox_render(message=row)

    assert "Your booking is confirmed." in message.body_text


def test_it_renders_the_event_as_it_was_after_a_later_move(booking):
    booking_notify(booking=booking, event="confirmed")
    booking.start, booking.end = START + timedelta(days=1), START + timedelta(days=1, minutes=30)
    booking.save()

    message = rows()["invitee"]

    assert "Monday, 15 March 2027, 15:00\N{EN DASH}15:30 (Europe/Berlin)" in message.body_text
    [event] = icalendar.Calendar.from_ical(message.ics).walk("VEVENT")
    assert event.decoded("DTSTART") == START
    assert str(event["STATUS"]) == "CONFIRMED"


def test_it_stamps_the_invite_with_the_event_time_not_the_render_time(booking):
    with time_machine.travel(NOW, tick=False):
        booking_notify(booking=booking, event="confirmed")

    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        message = rows()["invitee"]

    [event] = icalendar.Calendar.from_ical(message.ics).walk("VEVENT")
    assert event.decoded("DTSTAMP") == NOW


def test_it_records_an_events_rows_in_one_insert(booking):
    with CaptureQueriesContext(connection) as queries:
        booking_notify(booking=booking, event="confirmed")

    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1

    assert OutboxMessage.objects.count() == 2
