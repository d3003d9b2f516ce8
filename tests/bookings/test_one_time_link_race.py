"""Exactly once on real PostgreSQL: many concurrent bookings through one link."""

from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest
from rest_framework.test import APIClient

from bookings.models import Booking, OneTimeLink
from bookings.services.one_time_links import one_time_link_generate
from tests.calendars.factories import CalendarFactory
from tests.concurrency import run_together

ATTEMPTS = 24


def book_through(token: str, start: datetime, email: str) -> int:
    """POST a booking through the link behind `token`; the HTTP status."""
    payload = {"start": start.isoformat(), "name": "Racer", "email": email, "timezone": "UTC"}
    path = f"/api/public/links/{token}/bookings/"
    return APIClient().post(path, payload, format="json").status_code


@pytest.mark.postgres
def test_it_books_exactly_once_through_one_link_under_concurrency(transactional_db):
    calendar = CalendarFactory(hours=[(weekday, time(0), time(23, 30)) for weekday in range(7)])
    link = one_time_link_generate(calendar=calendar)
    token = link.token
    day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    # Different free times, so only the link (not the slot) can refuse the losers.
    starts = [day + timedelta(minutes=30 * n) for n in range(ATTEMPTS)]

    def attempt(index: int) -> int:
        return book_through(token, starts[index], f"racer-{index}@example.com")

    statuses = run_together(attempt, ATTEMPTS)

    assert Counter(statuses) == {201: 1, 410: ATTEMPTS - 1}, statuses
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED
    assert Booking.objects.filter(calendar=calendar).count() == 1
    assert link.bookings.get() == Booking.objects.get(calendar=calendar)


@pytest.mark.postgres
def test_it_books_one_slot_once_through_many_links_and_keeps_the_losers_active(
    transactional_db,
):
    # Each attempt claims its own link and waits for the calendar's lock in that same
    # statement; the losers find the slot taken, and their claims roll back.
    calendar = CalendarFactory(hours=[(weekday, time(0), time(23, 30)) for weekday in range(7)])
    links = [one_time_link_generate(calendar=calendar) for _ in range(ATTEMPTS)]
    tokens = [link.token for link in links]
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0)
    start = start.replace(microsecond=0)

    def attempt(index: int) -> int:
        return book_through(tokens[index], start, f"racer-{index}@example.com")

    statuses = run_together(attempt, ATTEMPTS)

    assert Counter(statuses) == {201: 1, 409: ATTEMPTS - 1}, statuses
    booking = Booking.objects.get(calendar=calendar)
    states = Counter(link.state for link in OneTimeLink.objects.filter(calendar=calendar))
    assert states == {OneTimeLink.State.USED: 1, OneTimeLink.State.ACTIVE: ATTEMPTS - 1}
    assert booking.one_time_link.state == OneTimeLink.State.USED


USES = 3
USE_ATTEMPTS = 30
TRIALS = 4


@pytest.mark.postgres
@pytest.mark.parametrize("trial", range(TRIALS))
def test_it_books_exactly_max_uses_times_through_a_multi_use_link(transactional_db, trial):
    calendar = CalendarFactory(hours=[(weekday, time(0), time(23, 30)) for weekday in range(7)])
    link = one_time_link_generate(calendar=calendar, max_uses=USES)
    token = link.token
    day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    # Every attempt a different free time: only the link's uses can refuse the losers.
    starts = [day + timedelta(minutes=30 * n) for n in range(USE_ATTEMPTS)]

    def attempt(index: int) -> int:
        return book_through(token, starts[index], f"racer-{trial}-{index}@example.com")

    statuses = run_together(attempt, USE_ATTEMPTS)

    assert Counter(statuses) == {201: USES, 410: USE_ATTEMPTS - USES}, statuses
    link.refresh_from_db()
    assert (link.uses, link.state) == (USES, OneTimeLink.State.USED)
    assert Booking.objects.filter(calendar=calendar, one_time_link=link).count() == USES
    assert Booking.objects.filter(calendar=calendar).count() == USES
