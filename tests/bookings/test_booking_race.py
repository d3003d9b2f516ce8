"""Never a double booking: concurrent attempts at one slot against a real PostgreSQL.

Each thread has its own database connection; a Barrier releases them together so their
transactions overlap, and the winners are counted afterwards from the database.
"""

from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client

from bookings.models import Booking, BookingSource, OutboxMessage
from bookings.services.bookings import SlotUnavailable, booking_create
from contacts.models import Contact
from tests import concurrency
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)  # a Wednesday
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # Monday 10:00, inside the factory's hours


def run_together(target) -> list:
    return concurrency.run_together(target, THREADS)


def book(calendar, *, email: str, start=SLOT, name: str = "Jamie Rivera"):
    return booking_create(
        calendar=calendar,
        start=start,
        name=name,
        email=email,
        timezone="UTC",
        source=BookingSource.API,
        now=NOW,
    )


def book_in_thread(calendar, email_of):
    def attempt(index: int):
        return book(calendar, start=SLOT, name=f"Racer {index}", email=email_of(index))

    return attempt


def assert_exactly_winners(results: list, seats: int, calendar) -> list[Booking]:
    winners = [r for r in results if isinstance(r, Booking)]
    losers = [r for r in results if not isinstance(r, Booking)]
    assert len(winners) == seats
    assert all(isinstance(r, SlotUnavailable) for r in losers), losers
    stored = list(Booking.objects.filter(calendar=calendar))
    assert len(stored) == seats  # nothing half-written by a loser
    assert {b.pk for b in stored} == {w.pk for w in winners}
    assert sorted(b.seat for b in stored) == list(range(1, seats + 1))
    assert all(b.status == Booking.Status.CONFIRMED and b.start == SLOT for b in stored)
    return stored


@pytest.mark.parametrize("seats", [1, 3])
def test_it_confirms_exactly_the_seats_of_a_slot_under_concurrent_bookings(seats):
    calendar = CalendarFactory(seats_per_slot=seats)

    results = run_together(book_in_thread(calendar, lambda i: f"racer{i}@example.com"))

    stored = assert_exactly_winners(results, seats, calendar)
    # Contacts: one per winner, linked; none left behind by a loser's rolled-back upsert.
    contacts = Contact.objects.all()
    assert sorted(c.email for c in contacts) == sorted(b.invitee_email for b in stored)
    assert {b.contact_id for b in stored} == {c.pk for c in contacts}
    # Emails for the winners' bookings only (keys name the booking: "booking:<locator>:...").
    booked = {b.locator for b in stored}
    assert {m.key.split(":")[1] for m in OutboxMessage.objects.all()} == booked


@pytest.mark.parametrize(
    "settings",
    [
        {"duration_minutes": 60, "slot_interval_minutes": 15},  # the hours overlap
        {"duration_minutes": 15, "buffer_after_minutes": 45},  # each buffer covers the next
    ],
    ids=["overlapping-durations", "buffers"],
)
def test_it_confirms_one_of_overlapping_starts_under_concurrent_bookings(settings):
    # Distinct starts: the (calendar, start, seat) constraint cannot tell these apart, so
    # only the calendar lock and a busy-time read made after it keep them from all winning.
    calendar = CalendarFactory(**settings)
    starts = [SLOT.replace(minute=m) for m in (0, 15, 30, 45)]

    def attempt(index: int):
        start = starts[index % len(starts)]
        return book(calendar, start=start, name=f"Racer {index}", email=f"racer{index}@example.com")

    results = run_together(attempt)

    winners = [r for r in results if isinstance(r, Booking)]
    assert len(winners) == 1
    assert all(isinstance(r, SlotUnavailable) for r in results if r not in winners), results
    assert list(Booking.objects.values_list("pk", flat=True)) == [winners[0].pk]
    assert Contact.objects.get().email == winners[0].invitee_email


def test_it_gives_one_contact_to_concurrent_winners_with_the_same_email():
    calendar = CalendarFactory(seats_per_slot=3)

    results = run_together(book_in_thread(calendar, lambda i: "same@example.com"))

    stored = assert_exactly_winners(results, 3, calendar)
    contact = Contact.objects.get()
    assert {b.contact_id for b in stored} == {contact.pk}


def test_it_books_one_invitee_on_many_calendars_at_once_with_one_contact():
    # Each booking holds its own calendar's lock while it inserts the same new contact (the
    # calendars have one owner): the others wait for the first insert's transaction, then
    # find the row. No deadlock, no duplicate, no refused booking.
    owner = UserFactory()
    calendars = [CalendarFactory(owner=owner) for _ in range(THREADS)]

    def attempt(index: int):
        return book(calendars[index], email="jamie@example.com")

    results = run_together(attempt)

    assert all(isinstance(r, Booking) for r in results), results
    contact = Contact.objects.get()
    assert contact.owner == owner
    assert set(Booking.objects.values_list("contact_id", flat=True)) == {contact.pk}
    assert Booking.objects.count() == THREADS


def test_it_books_one_invitee_on_two_owners_calendars_at_once_with_a_contact_each():
    calendars = [CalendarFactory() for _ in range(THREADS)]
    owners = {calendar.owner_id for calendar in calendars}

    def attempt(index: int):
        return book(calendars[index], email="jamie@example.com")

    results = run_together(attempt)

    assert all(isinstance(r, Booking) for r in results), results
    assert set(Contact.objects.values_list("owner_id", flat=True)) == owners
    assert Contact.objects.count() == THREADS
    for booking in Booking.objects.select_related("calendar", "contact"):
        assert booking.contact.owner_id == booking.calendar.owner_id


@pytest.mark.parametrize("seats", [1, 3])
def test_it_answers_201_for_the_seats_and_409_for_the_rest_through_the_api(seats):
    calendar = CalendarFactory(seats_per_slot=seats)
    url = f"/api/public/calendars/{calendar.slug}/bookings/"

    def attempt(index: int):
        response = Client().post(
            url,
            {
                "start": SLOT.isoformat(),
                "name": f"Racer {index}",
                "email": f"racer{index}@example.com",
                "timezone": "UTC",
            },
            content_type="application/json",
        )
        return response.status_code, response.json()

    with time_machine.travel(NOW, tick=True):
        results = run_together(attempt)

    assert all(isinstance(r, tuple) for r in results), results
    assert Counter(status for status, _ in results) == {201: seats, 409: THREADS - seats}
    assert all(body["code"] == "slot_unavailable" for status, body in results if status == 409)
    created_ids = {body["id"] for status, body in results if status == 201}
    stored = Booking.objects.filter(calendar=calendar, status=Booking.Status.CONFIRMED)
    assert {b.pk for b in stored} == created_ids  # every answered booking is stored
    assert Booking.objects.count() == seats


def test_it_has_the_database_refuse_a_second_confirmed_booking_of_one_seat():
    calendar = CalendarFactory()
    BookingFactory(calendar=calendar, start=SLOT, seat=1)

    with (
        pytest.raises(IntegrityError, match="booking_one_confirmed_per_seat"),
        transaction.atomic(),
    ):
        BookingFactory(calendar=calendar, start=SLOT, seat=1)

    assert Booking.objects.count() == 1


def test_it_lets_the_database_keep_cancelled_bookings_beside_a_confirmed_one():
    calendar = CalendarFactory()
    BookingFactory(calendar=calendar, start=SLOT, seat=1, status=Booking.Status.CANCELLED)
    BookingFactory(calendar=calendar, start=SLOT, seat=1, status=Booking.Status.CANCELLED)

    BookingFactory(calendar=calendar, start=SLOT, seat=1)

    assert Booking.objects.filter(status=Booking.Status.CONFIRMED).count() == 1
