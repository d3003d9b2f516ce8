from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from bookings import signals
from bookings.models import Booking, BookingSource, OutboxMessage
from bookings.services.bookings import (
    BookingError,
    SlotUnavailable,
    booking_cancel,
    booking_create,
    booking_reschedule,
)
from contacts.models import Contact
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db

# A Wednesday morning; the calendars below are open Monday to Friday 09:00-17:00 UTC.
NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # Monday 10:00
OTHER_SLOT = datetime(2027, 3, 15, 14, 0, tzinfo=UTC)


def book(calendar, start=SLOT, **kwargs) -> Booking:
    values = {
        "name": "Jamie Rivera",
        "email": "jamie@example.com",
        "timezone": "Europe/Berlin",
        "source": BookingSource.SCHEDULING_LINK,
        "now": NOW,
    }
    values.update(kwargs)
    return booking_create(calendar=calendar, start=start, **values)


@pytest.fixture
def received():
    """Every booking signal sent, as (signal name, kwargs without signal/sender)."""
    calls = []

    def receiver(signal, sender, **kwargs):
        calls.append((signal_names[signal], kwargs))

    signal_names = {
        signals.booking_confirmed: "confirmed",
        signals.booking_cancelled: "cancelled",
        signals.booking_rescheduled: "rescheduled",
    }
    for signal in signal_names:
        signal.connect(receiver, dispatch_uid="test-booking-services")
    yield calls
    for signal in signal_names:
        signal.disconnect(dispatch_uid="test-booking-services")


def test_it_books_a_free_slot():
    calendar = CalendarFactory()

    booking = book(calendar, notes="  About the roof  ", phone="+49 30 1234")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.start == SLOT
    assert booking.end == SLOT + timedelta(minutes=30)
    assert booking.seat == 1
    assert booking.source == BookingSource.SCHEDULING_LINK
    assert booking.invitee_name == "Jamie Rivera"
    assert booking.notes == "About the roof"
    assert booking.timezone == "Europe/Berlin"


def test_it_accepts_a_start_given_in_another_offset():
    calendar = CalendarFactory()
    berlin_start = SLOT.astimezone(ZoneInfo("Europe/Berlin"))

    booking = book(calendar, start=berlin_start)

    booking.refresh_from_db()
    assert booking.start == SLOT


def test_it_creates_the_contact_and_links_it():
    calendar = CalendarFactory()

    booking = book(calendar, phone="+1 555 0100")

    contact = Contact.objects.get()
    assert booking.contact == contact
    assert (contact.email, contact.first_name, contact.last_name, contact.phone) == (
        "jamie@example.com",
        "Jamie",
        "Rivera",
        "+1 555 0100",
    )


def test_it_reuses_the_contact_with_the_same_email_in_any_case():
    calendar = CalendarFactory()
    existing = ContactFactory(
        owner=calendar.owner, email="jamie@example.com", first_name="J", last_name="", phone=""
    )

    booking = book(calendar, email="Jamie@EXAMPLE.com", name="Jamie Rivera")

    existing.refresh_from_db()
    assert booking.contact_id == existing.pk
    assert Contact.objects.count() == 1
    assert existing.first_name == "J"  # known values are kept
    assert existing.last_name == "Rivera"  # blanks are filled in


def test_it_files_the_invitee_under_the_calendars_owner():
    calendar = CalendarFactory()
    theirs = ContactFactory(email="jamie@example.com", first_name="J", last_name="")

    booking = book(calendar, email="jamie@example.com", name="Jamie Rivera")

    assert booking.contact.owner == calendar.owner
    assert booking.contact_id != theirs.pk
    theirs.refresh_from_db()
    assert theirs.last_name == ""  # another owner's contact is not touched


def test_it_records_who_booked_on_behalf():
    calendar = CalendarFactory()

    booking = book(calendar, source=BookingSource.STAFF, created_by=calendar.owner)

    booking.refresh_from_db()
    assert booking.created_by == calendar.owner
    assert booking.source == BookingSource.STAFF


def test_it_refuses_a_start_that_is_not_a_slot_start():
    calendar = CalendarFactory()

    with pytest.raises(SlotUnavailable):
        book(calendar, start=SLOT + timedelta(minutes=10))

    assert not Booking.objects.exists()


def test_it_refuses_a_start_outside_the_hours():
    calendar = CalendarFactory()

    with pytest.raises(SlotUnavailable):
        book(calendar, start=datetime(2027, 3, 13, 10, 0, tzinfo=UTC))  # a Saturday

    assert not Booking.objects.exists()


def test_it_refuses_a_start_in_the_past():
    calendar = CalendarFactory()

    with pytest.raises(SlotUnavailable):
        book(calendar, start=NOW - timedelta(days=2))


def test_it_refuses_a_taken_slot_and_writes_nothing():
    calendar = CalendarFactory()
    book(calendar)

    with pytest.raises(SlotUnavailable):
        book(calendar, email="second@example.com")

    assert Booking.objects.count() == 1
    assert not Contact.objects.filter(email="second@example.com").exists()


def test_it_fills_the_seats_of_a_slot_lowest_first():
    calendar = CalendarFactory(seats_per_slot=3)

    seats = [book(calendar, email=f"p{n}@example.com").seat for n in range(3)]

    assert seats == [1, 2, 3]
    with pytest.raises(SlotUnavailable):
        book(calendar, email="fourth@example.com")


def test_it_gives_a_freed_seat_to_the_next_booking():
    calendar = CalendarFactory(seats_per_slot=2)
    first = book(calendar, email="p1@example.com")
    book(calendar, email="p2@example.com")
    booking_cancel(booking=first)

    third = book(calendar, email="p3@example.com")

    assert third.seat == 1


def test_it_refuses_a_naive_start_on_the_start_field():
    calendar = CalendarFactory()

    with pytest.raises(ValidationError) as caught:
        book(calendar, start=SLOT.replace(tzinfo=None))

    assert "start" in caught.value.message_dict


def test_it_reports_bad_input_under_the_input_names():
    calendar = CalendarFactory()

    with pytest.raises(ValidationError) as caught:
        book(calendar, email="not-an-email", name="", timezone="Mars/Olympus")

    assert set(caught.value.message_dict) == {"email", "name", "timezone"}
    assert not Booking.objects.exists()
    assert not Contact.objects.exists()


def test_it_refuses_an_unknown_source_and_overlong_input():
    calendar = CalendarFactory()

    with pytest.raises(ValidationError) as caught:
        book(calendar, source="carrier-pigeon", name="x" * 201, phone="1" * 41)

    assert set(caught.value.message_dict) == {"source", "name", "phone"}
    assert not Booking.objects.exists()


def test_it_requires_consent_when_the_calendar_asks_for_it():
    calendar = CalendarFactory(requires_consent=True, consent_text="I agree.")

    with pytest.raises(ValidationError) as caught:
        book(calendar)

    assert "consent" in caught.value.message_dict
    assert not Booking.objects.exists()


def test_it_books_with_consent_when_the_calendar_asks_for_it():
    calendar = CalendarFactory(requires_consent=True, consent_text="I agree.")

    booking = book(calendar, consent=True)

    assert booking.pk is not None


def test_it_refuses_an_inactive_calendar():
    calendar = CalendarFactory(is_active=False)

    with pytest.raises(SlotUnavailable):
        book(calendar)

    assert not Booking.objects.exists()


def test_it_reads_a_lost_seat_race_as_slot_unavailable_and_keeps_the_transaction_usable():
    # Stand-in for a race the lock should prevent: the seat check says seat 1 is free while
    # a confirmed booking already holds it, so only the database constraint refuses.
    calendar = CalendarFactory()
    BookingFactory(calendar=calendar, start=SLOT, seat=1)

    with transaction.atomic():
        with (
            mock.patch("bookings.services.bookings._free_seat", return_value=1),
            pytest.raises(SlotUnavailable),
        ):
            book(calendar, email="late@example.com")
        # The outer transaction survived the refused insert, and the booking's emails,
        # recorded in the same statement, went with it.
        assert Booking.objects.filter(calendar=calendar).count() == 1
        assert not OutboxMessage.objects.exists()

    assert not Contact.objects.filter(email="late@example.com").exists()


def test_it_sends_booking_confirmed_only_after_commit(received, django_capture_on_commit_callbacks):
    calendar = CalendarFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = book(calendar)
    assert received == []

    for callback in callbacks:
        callback()

    assert received == [
        (
            "confirmed",
            {
                "booking_id": booking.pk,
                "calendar_id": calendar.pk,
                "contact_id": booking.contact_id,
                "source": BookingSource.SCHEDULING_LINK,
            },
        )
    ]


def test_it_sends_nothing_when_the_surrounding_transaction_rolls_back(
    received, django_capture_on_commit_callbacks
):
    calendar = CalendarFactory()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        book(calendar)
        raise RuntimeError("the caller failed after booking")

    assert received == []
    assert not Booking.objects.exists()


def test_it_bounds_the_queries_of_a_booking(django_assert_max_num_queries):
    calendar = CalendarFactory(seats_per_slot=3)
    for hour in range(11, 17):
        BookingFactory(calendar=calendar, start=SLOT.replace(hour=hour))
    BookingFactory(calendar=calendar, start=SLOT, seat=1)

    # A handful (lock, rules, busy time, the owner's connected-calendar busy time, seats,
    # contact, booking, outbox, savepoints): a query per existing booking or per seat would
    # break the bound.
    with django_assert_max_num_queries(17):
        book(calendar)


def test_it_cancels_and_frees_the_slot():
    calendar = CalendarFactory()
    booking = book(calendar)

    booking_cancel(booking=booking, reason="Out sick", by=calendar.owner)

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancelled_at is not None
    assert booking.cancel_reason == "Out sick"
    assert book(calendar, email="next@example.com").start == SLOT


def test_it_sends_booking_cancelled_after_commit(received, django_capture_on_commit_callbacks):
    calendar = CalendarFactory()
    booking = book(calendar)
    received.clear()

    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking)

    assert received == [
        (
            "cancelled",
            {
                "booking_id": booking.pk,
                "calendar_id": calendar.pk,
                "contact_id": booking.contact_id,
            },
        )
    ]


def test_it_cancels_twice_harmlessly(received, django_capture_on_commit_callbacks):
    calendar = CalendarFactory()
    booking = book(calendar)
    booking_cancel(booking=booking, reason="first")
    booking.refresh_from_db()
    cancelled_at = booking.cancelled_at
    received.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = booking_cancel(booking=booking, reason="second")

    booking.refresh_from_db()
    assert again.status == Booking.Status.CANCELLED
    assert booking.cancelled_at == cancelled_at
    assert booking.cancel_reason == "first"
    assert callbacks == []
    assert received == []


def test_it_reschedules_the_same_booking_to_a_free_time():
    calendar = CalendarFactory()
    booking = book(calendar)
    token = booking.token

    moved = booking_reschedule(booking=booking, start=OTHER_SLOT, now=NOW)

    booking.refresh_from_db()
    assert moved.pk == booking.pk
    assert booking.start == OTHER_SLOT
    assert booking.end == OTHER_SLOT + timedelta(minutes=30)
    assert booking.token == token
    assert Booking.objects.count() == 1


def test_it_frees_the_old_time_when_rescheduled():
    calendar = CalendarFactory()
    booking = book(calendar)

    booking_reschedule(booking=booking, start=OTHER_SLOT, now=NOW)

    assert book(calendar, email="next@example.com").start == SLOT


def test_it_keeps_the_booking_when_the_new_time_is_taken(received):
    calendar = CalendarFactory()
    booking = book(calendar)
    book(calendar, start=OTHER_SLOT, email="other@example.com")
    received.clear()

    with pytest.raises(SlotUnavailable):
        booking_reschedule(booking=booking, start=OTHER_SLOT, now=NOW)

    booking.refresh_from_db()
    assert booking.start == SLOT
    assert booking.status == Booking.Status.CONFIRMED
    with pytest.raises(SlotUnavailable):
        book(calendar, email="third@example.com")  # the old time is still held
    assert received == []


def test_it_reschedules_onto_a_time_that_overlaps_only_itself():
    calendar = CalendarFactory(duration_minutes=60, slot_interval_minutes=30)
    booking = book(calendar)

    booking_reschedule(booking=booking, start=SLOT + timedelta(minutes=30), now=NOW)

    booking.refresh_from_db()
    assert booking.start == SLOT + timedelta(minutes=30)


def test_it_refuses_to_reschedule_a_cancelled_booking():
    calendar = CalendarFactory()
    booking = book(calendar)
    booking_cancel(booking=booking)

    with pytest.raises(BookingError):
        booking_reschedule(booking=booking, start=OTHER_SLOT, now=NOW)

    booking.refresh_from_db()
    assert booking.start == SLOT
    assert booking.status == Booking.Status.CANCELLED


def test_it_sends_booking_rescheduled_after_commit(received, django_capture_on_commit_callbacks):
    calendar = CalendarFactory()
    booking = book(calendar)
    received.clear()

    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=OTHER_SLOT, now=NOW)

    assert received == [
        (
            "rescheduled",
            {
                "booking_id": booking.pk,
                "calendar_id": calendar.pk,
                "contact_id": booking.contact_id,
            },
        )
    ]
