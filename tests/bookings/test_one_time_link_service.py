"""One-time link services: generate, states and transitions, revoke, book exactly once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services.bookings import SlotUnavailable, booking_cancel, booking_reschedule
from bookings.services.one_time_links import (
    LinkNotFound,
    LinkUnavailable,
    one_time_link_book,
    one_time_link_generate,
    one_time_link_revoke,
    one_time_links_in_state,
    parse_expires_in,
)
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db

# Monday 7 January 2030, 08:00 UTC; the factory calendar is open Mon-Fri 09:00-17:00 UTC.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
OTHER_SLOT = datetime(2030, 1, 8, 11, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def book(link, **kwargs):
    return book_by_token(link.token, **kwargs)


def book_by_token(token, *, start=SLOT, email="ana@example.com", **extra):
    return one_time_link_book(
        token=token, start=start, name="Ana Lima", email=email, timezone="Europe/Lisbon", **extra
    )


# Generate


def test_it_generates_an_active_link():
    calendar = CalendarFactory()
    contact = ContactFactory(owner=calendar.owner)

    link = one_time_link_generate(
        calendar=calendar, created_by=calendar.owner, contact=contact, label="Ana"
    )

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert (link.calendar, link.created_by, link.contact, link.label) == (
        calendar,
        calendar.owner,
        contact,
        "Ana",
    )
    assert link.created_at == NOW


def test_it_refuses_a_link_for_a_contact_of_another_owner():
    calendar = CalendarFactory()

    with pytest.raises(ValidationError) as caught:
        one_time_link_generate(calendar=calendar, contact=ContactFactory())

    assert caught.value.message_dict == {"contact": ["This contact belongs to another owner."]}
    assert not OneTimeLink.objects.exists()


def test_it_returns_the_existing_link_for_a_used_idempotency_key():
    calendar = CalendarFactory()
    first = one_time_link_generate(calendar=calendar, idempotency_key="wf:1:enr:2:step:3")

    again = one_time_link_generate(calendar=calendar, idempotency_key="wf:1:enr:2:step:3")

    assert again.pk == first.pk
    assert again.token == first.token
    assert OneTimeLink.objects.count() == 1


def test_it_makes_distinct_links_without_an_idempotency_key():
    calendar = CalendarFactory()

    first = one_time_link_generate(calendar=calendar)
    second = one_time_link_generate(calendar=calendar)

    assert first.pk != second.pk
    assert first.token != second.token


def test_it_refuses_an_expiry_in_the_past():
    with pytest.raises(ValidationError) as exc:
        one_time_link_generate(calendar=CalendarFactory(), expires_at=NOW)

    assert "expires_at" in exc.value.message_dict
    assert not OneTimeLink.objects.exists()


def test_it_full_cleans_before_saving():
    with pytest.raises(ValidationError) as exc:
        one_time_link_generate(calendar=CalendarFactory(), label="x" * 201)

    assert "label" in exc.value.message_dict
    assert not OneTimeLink.objects.exists()


# States


def test_it_expires_a_link_when_its_time_passes(frozen_time):
    link = OneTimeLinkFactory(expires_at=NOW + timedelta(hours=1))
    assert link.state == OneTimeLink.State.ACTIVE

    frozen_time.move_to(NOW + timedelta(hours=1))

    assert link.state == OneTimeLink.State.EXPIRED


def test_it_keeps_a_link_used_before_its_expiry_used(frozen_time):
    link = OneTimeLinkFactory(expires_at=NOW + timedelta(hours=1))
    book(link)

    frozen_time.move_to(NOW + timedelta(days=2))

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED


def test_it_counts_states_in_sql_like_the_model_derives_them():
    calendar = CalendarFactory()
    OneTimeLinkFactory(calendar=calendar)
    OneTimeLinkFactory(calendar=calendar, expires_at=NOW + timedelta(seconds=1))
    OneTimeLinkFactory(calendar=calendar, expires_at=NOW)
    OneTimeLinkFactory(calendar=calendar, revoked_at=NOW, expires_at=NOW - timedelta(days=1))
    OneTimeLinkFactory(calendar=calendar, used_at=NOW, revoked_at=NOW)
    links = OneTimeLink.objects.filter(calendar=calendar)

    for state in OneTimeLink.State:
        in_sql = set(one_time_links_in_state(links, state=state, now=NOW))
        derived = {link for link in links if link.state_at(NOW) == state}
        assert in_sql == derived, state


# Revoke


def test_it_revokes_an_active_link():
    link = OneTimeLinkFactory()

    one_time_link_revoke(link=link)

    link.refresh_from_db()
    assert link.revoked_at == NOW
    assert link.state == OneTimeLink.State.REVOKED


def test_it_leaves_a_revoked_link_as_it_was(frozen_time):
    link = OneTimeLinkFactory()
    one_time_link_revoke(link=link)
    frozen_time.move_to(NOW + timedelta(hours=1))

    one_time_link_revoke(link=link)

    link.refresh_from_db()
    assert link.revoked_at == NOW


@pytest.mark.parametrize(
    "fields",
    [{"used_at": NOW - timedelta(hours=1)}, {"expires_at": NOW - timedelta(hours=1)}],
    ids=["used", "expired"],
)
def test_it_does_not_revoke_a_link_that_is_not_active(fields):
    link = OneTimeLinkFactory(**fields)
    state_before = link.state

    one_time_link_revoke(link=link)

    link.refresh_from_db()
    assert link.revoked_at is None
    assert link.state == state_before


# Book through a link


def test_it_books_through_an_active_link_and_marks_it_used():
    link = OneTimeLinkFactory()

    booking = book(link)

    link.refresh_from_db()
    assert booking.pk is not None
    assert booking.source == BookingSource.ONE_TIME_LINK
    assert (booking.calendar, booking.start, booking.invitee_email) == (
        link.calendar,
        SLOT,
        "ana@example.com",
    )
    assert link.used_at == NOW
    assert link.bookings.get() == booking
    assert link.state == OneTimeLink.State.USED


def test_it_refuses_a_second_booking_through_a_used_link():
    link = OneTimeLinkFactory()
    first = book(link)

    with pytest.raises(LinkUnavailable):
        book(link, start=OTHER_SLOT, email="someone-else@example.com")

    link.refresh_from_db()
    assert link.bookings.get() == first
    assert Booking.objects.count() == 1


def test_it_refuses_a_stale_instance_of_a_used_link():
    link = OneTimeLinkFactory()
    stale = OneTimeLink.objects.get(pk=link.pk)
    book(link)

    with pytest.raises(LinkUnavailable):
        book(stale, start=OTHER_SLOT)

    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    "fields",
    [{"expires_at": NOW - timedelta(seconds=1)}, {"revoked_at": NOW - timedelta(seconds=1)}],
    ids=["expired", "revoked"],
)
def test_it_refuses_to_book_through_an_expired_or_revoked_link(fields):
    link = OneTimeLinkFactory(**fields)

    with pytest.raises(LinkUnavailable):
        book(link)

    link.refresh_from_db()
    assert link.used_at is None
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_at": NOW},  # an expiry reached exactly now counts as passed
        {"revoked_at": NOW - timedelta(seconds=1)},
        {"used_at": NOW - timedelta(seconds=1)},
    ],
    ids=["expired", "revoked", "used"],
)
def test_it_refuses_a_copy_read_while_active_once_the_row_changed(fields):
    link = OneTimeLinkFactory(expires_at=NOW + timedelta(days=1))
    OneTimeLink.objects.filter(pk=link.pk).update(**fields)

    with pytest.raises(LinkUnavailable):
        book(link)

    assert not Booking.objects.exists()
    link.refresh_from_db()
    assert not Booking.objects.filter(one_time_link=link).exists()


def test_it_claims_an_unexpired_link_in_one_statement():
    link = OneTimeLinkFactory(expires_at=NOW + timedelta(seconds=1))

    with CaptureQueriesContext(connection) as queries:
        booking = book(link)

    link_table = OneTimeLink._meta.db_table
    claims = [q["sql"] for q in queries if q["sql"].startswith(f'UPDATE "{link_table}"')]
    assert len(claims) == 1

    link.refresh_from_db()
    assert (link.used_at, link.bookings.get()) == (NOW, booking)


def test_it_keeps_the_link_active_when_the_time_is_taken():
    link = OneTimeLinkFactory()
    BookingFactory(calendar=link.calendar, start=SLOT)

    with pytest.raises(SlotUnavailable):
        book(link)

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.filter(one_time_link=link).exists()
    # ...and the invitee can pick another time.
    booking = book(link, start=OTHER_SLOT)
    link.refresh_from_db()
    assert link.bookings.get() == booking


def test_it_keeps_the_link_active_when_the_input_is_bad():
    link = OneTimeLinkFactory()

    with pytest.raises(ValidationError):
        book(link, email="not-an-email")

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.exists()


def test_it_does_not_revive_the_link_when_the_booking_is_cancelled():
    link = OneTimeLinkFactory()
    booking = book(link)

    booking_cancel(booking=booking, reason="changed my mind")

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED
    with pytest.raises(LinkUnavailable):
        book(link)


def test_it_does_not_revive_the_link_when_the_booking_is_rescheduled():
    link = OneTimeLinkFactory()
    booking = book(link)

    booking_reschedule(booking=booking, start=OTHER_SLOT)

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED
    assert link.bookings.get() == booking
    with pytest.raises(LinkUnavailable):
        book(link)


# Durations


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_it_parses_durations(text, delta):
    assert parse_expires_in(text) == delta


@pytest.mark.parametrize("text", ["7x", "7", "d", "", "0m", "1.5h", "7 d", "3651d"])
def test_it_refuses_bad_durations(text):
    with pytest.raises(ValueError, match=r"30m, 12h or 7d|out of range"):
        parse_expires_in(text)


def test_it_claims_the_link_before_booking(monkeypatch):
    # The claim is the link's row lock: a concurrent attempt waits for it instead of booking
    # a slot it will have to give back.
    from bookings.services import bookings as booking_services

    link = OneTimeLinkFactory()
    create = booking_services.booking_create
    seen = []

    def create_and_look(**kwargs):
        seen.append(OneTimeLink.objects.get(pk=link.pk).used_at)
        return create(**kwargs)

    monkeypatch.setattr(booking_services, "booking_create", create_and_look)

    book(link)

    assert seen == [NOW]


# The token's part: the claim finds the row by its locator, then the MAC is checked.


def test_it_books_by_token_and_keeps_the_link_on_the_booking():
    link = OneTimeLinkFactory()

    booking = book_by_token(link.token)

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED
    assert link.used_at == NOW
    assert booking.one_time_link_id == link.pk
    assert booking.source == BookingSource.ONE_TIME_LINK
    assert link.bookings.get() == booking


def test_it_answers_not_found_for_an_unknown_token():
    link = OneTimeLinkFactory()
    unknown = OneTimeLinkFactory.build(calendar=link.calendar).token

    with pytest.raises(LinkNotFound):
        book_by_token(unknown)


def test_it_answers_not_found_for_a_malformed_token():
    with pytest.raises(LinkNotFound):
        book_by_token("not-a-token")


def test_it_rolls_the_claim_back_for_a_forged_mac():
    link = OneTimeLinkFactory()
    token = link.token
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")

    with pytest.raises(LinkNotFound):
        book_by_token(forged)

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.exists()


def test_it_reads_a_link_to_a_deactivated_calendar_as_expired_and_keeps_it():
    link = OneTimeLinkFactory()
    book_by_token(OneTimeLinkFactory(calendar=link.calendar).token, start=OTHER_SLOT)  # cached
    link.calendar.is_active = False
    link.calendar.save()

    with pytest.raises(LinkUnavailable):
        book_by_token(link.token)

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.filter(one_time_link=link).exists()
