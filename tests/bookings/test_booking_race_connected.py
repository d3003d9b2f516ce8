"""The booking races of test_booking_race.py with the owner's connected-calendar busy time
stored: still exactly the seats win, and external time taken under the lock refuses all."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from bookings.models import Booking, BookingSource
from bookings.services.bookings import SlotUnavailable, booking_create
from tests import concurrency
from tests.calendars.factories import BusyIntervalFactory, CalendarFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # Monday 10:00, inside the factory's hours


@pytest.fixture(autouse=True)
def fresh_caches():
    cache.clear()
    yield
    cache.clear()


def attempt_on(calendar):
    def attempt(index: int):
        return booking_create(
            calendar=calendar,
            start=SLOT,
            name=f"Racer {index}",
            email=f"racer{index}@example.com",
            timezone="UTC",
            source=BookingSource.API,
            now=NOW,
        )

    return attempt


def busy_around(owner, *, skip: datetime) -> None:
    """Busy time all day long on the slot's date, except the hour of `skip`."""
    day = skip.replace(hour=0)
    for hour in range(24):
        start = day + timedelta(hours=hour)
        if start != skip:
            BusyIntervalFactory(owner=owner, calendar__connection__owner=owner, start=start)


@pytest.mark.parametrize("seats", [1, 3])
def test_it_confirms_exactly_the_seats_with_busy_time_stored(seats):
    calendar = CalendarFactory(seats_per_slot=seats)
    busy_around(calendar.owner, skip=SLOT)

    results = concurrency.run_together(attempt_on(calendar), THREADS)

    winners = [r for r in results if isinstance(r, Booking)]
    assert len(winners) == seats
    assert all(isinstance(r, SlotUnavailable) for r in results if r not in winners)
    stored = Booking.objects.filter(calendar=calendar)
    assert sorted(stored.values_list("seat", flat=True)) == list(range(1, seats + 1))


def test_it_refuses_every_racer_when_external_time_covers_the_slot():
    calendar = CalendarFactory(seats_per_slot=3)
    owner = calendar.owner
    BusyIntervalFactory(owner=owner, calendar__connection__owner=owner, start=SLOT)

    results = concurrency.run_together(attempt_on(calendar), THREADS)

    assert all(isinstance(r, SlotUnavailable) for r in results)
    assert not Booking.objects.exists()
