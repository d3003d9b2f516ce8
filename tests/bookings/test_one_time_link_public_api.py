"""Public one-time link API: summary, slots and booking through a token."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings.models import Booking, BookingSource, OneTimeLink
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


@pytest.fixture
def api():
    return APIClient()


def body(start=SLOT, **extra) -> dict:
    return {
        "start": start.isoformat(),
        "name": "Ana Lima",
        "email": "ana@example.com",
        "timezone": "Europe/Lisbon",
        **extra,
    }


def bad_tokens(link) -> list[str]:
    flipped = "B" if link.token[-1] == "A" else "A"
    return [
        link.token[:-1] + flipped,
        "x" * 34,
        "short",
        "x" * 10_000,
        "%21%21%21",
    ]


# Summary


def test_it_summarizes_the_link_and_its_calendar(api):
    link = OneTimeLinkFactory(calendar=CalendarFactory(name="Intro call", description="Hello"))

    response = api.get(f"/api/public/links/{link.token}/")

    assert response.status_code == 200
    data = response.json()
    assert data["state"] == "active"
    assert data["calendar"]["name"] == "Intro call"
    assert data["calendar"]["description"] == "Hello"
    assert data["calendar"]["duration_minutes"] == 30
    assert data["calendar"]["owner"]["email"] == link.calendar.owner.email
    assert data["prefill"] is None
    assert "slug" not in data["calendar"]


def test_it_prefills_the_contact_a_link_was_made_for(api):
    contact = ContactFactory(first_name="Ana", last_name="Lima", email="ana@example.com")
    link = OneTimeLinkFactory(contact=contact)

    response = api.get(f"/api/public/links/{link.token}/")

    assert response.json()["prefill"] == {"name": "Ana Lima", "email": "ana@example.com"}


def test_it_does_not_consume_the_link_when_read(api):
    link = OneTimeLinkFactory()

    for path in ["", "slots/?start=2030-01-08&end=2030-01-08"]:
        assert api.get(f"/api/public/links/{link.token}/{path}").status_code == 200

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"used_at": NOW}, "used"),
        ({"expires_at": NOW}, "expired"),
        ({"revoked_at": NOW}, "revoked"),
    ],
)
def test_it_reports_the_state_of_a_spent_link(api, fields, state):
    link = OneTimeLinkFactory(**fields)

    response = api.get(f"/api/public/links/{link.token}/")

    assert response.status_code == 200
    assert response.json()["state"] == state


def test_it_answers_unknown_and_malformed_tokens_with_the_same_404(api):
    link = OneTimeLinkFactory()

    answers = {
        (r.status_code, r.content)
        for r in (api.get(f"/api/public/links/{bad}/") for bad in bad_tokens(link))
    }

    assert answers == {(404, b'{"detail":"Not found."}')}


# Slots


def test_it_answers_slots_like_the_calendar_slots_api(api):
    link = OneTimeLinkFactory()
    query = {"start": "2030-01-08", "end": "2030-01-09", "timezone": "Europe/Lisbon"}

    through_link = api.get(f"/api/public/links/{link.token}/slots/", query)
    through_calendar = api.get(f"/api/public/calendars/{link.calendar.slug}/slots/", query)

    assert through_link.status_code == through_calendar.status_code == 200
    assert through_link.json()["slots"] == through_calendar.json()["slots"]
    assert through_link.json()["timezone"] == "Europe/Lisbon"
    assert through_link.json()["slots"]["2030-01-08"]
    assert link.calendar.slug not in through_link.content.decode()


def test_it_answers_a_bad_slots_query_like_the_calendar_slots_api(api):
    link = OneTimeLinkFactory()
    query = {"start": "tomorrow", "end": "2030-01-09"}

    through_link = api.get(f"/api/public/links/{link.token}/slots/", query)
    through_calendar = api.get(f"/api/public/calendars/{link.calendar.slug}/slots/", query)

    assert through_link.status_code == through_calendar.status_code == 400
    assert through_link.json() == through_calendar.json()


def test_it_refuses_slots_of_a_used_link_with_410(api):
    link = OneTimeLinkFactory(used_at=NOW)

    response = api.get(
        f"/api/public/links/{link.token}/slots/", {"start": "2030-01-08", "end": "2030-01-08"}
    )

    assert response.status_code == 410
    assert response.json()["state"] == "used"


def test_it_answers_slots_of_an_unknown_token_with_404(api):
    response = api.get(
        f"/api/public/links/{'x' * 34}/slots/", {"start": "2030-01-08", "end": "2030-01-08"}
    )

    assert response.status_code == 404


# Booking


def test_it_books_through_the_link_like_a_calendar_booking(api):
    link = OneTimeLinkFactory()
    plain = APIClient().post(
        f"/api/public/calendars/{link.calendar.slug}/bookings/", body(OTHER_SLOT), format="json"
    )

    response = api.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")

    assert response.status_code == 201
    assert set(response.json()) == set(plain.json())
    booking = Booking.objects.get(pk=response.json()["id"])
    assert booking.source == BookingSource.ONE_TIME_LINK
    assert booking.start == SLOT
    link.refresh_from_db()
    assert link.bookings.get() == booking
    assert link.state == OneTimeLink.State.USED


def test_it_answers_410_once_the_link_is_used(api):
    link = OneTimeLinkFactory()
    api.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")

    response = api.post(
        f"/api/public/links/{link.token}/bookings/", body(OTHER_SLOT), format="json"
    )

    assert response.status_code == 410
    assert response.json()["code"] == "link_unavailable"
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    "fields",
    [{"expires_at": NOW - timedelta(seconds=1)}, {"revoked_at": NOW}],
    ids=["expired", "revoked"],
)
def test_it_answers_410_for_expired_and_revoked_links(api, fields):
    link = OneTimeLinkFactory(**fields)

    response = api.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")

    assert response.status_code == 410
    assert not Booking.objects.exists()


def test_it_answers_410_when_the_calendar_stopped_taking_bookings(api):
    link = OneTimeLinkFactory(calendar=CalendarFactory(is_active=False))

    response = api.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")

    assert response.status_code == 410
    assert response.json()["state"] == "expired"
    assert not Booking.objects.exists()


def test_it_answers_unknown_and_malformed_tokens_with_404_when_booking(api):
    link = OneTimeLinkFactory()

    statuses = {
        api.post(f"/api/public/links/{bad}/bookings/", body(), format="json").status_code
        for bad in bad_tokens(link)
    }

    assert statuses == {404}
    assert not Booking.objects.exists()
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE


def test_it_keeps_the_link_active_when_the_time_is_taken(api):
    link = OneTimeLinkFactory()
    BookingFactory(calendar=link.calendar, start=SLOT)

    response = api.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    retry = api.post(f"/api/public/links/{link.token}/bookings/", body(OTHER_SLOT), format="json")
    assert retry.status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"start": "2030-01-08T10:00:00"}, "start"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": ""}, "name"),
    ],
)
def test_it_keeps_the_link_active_on_bad_input(api, changes, field):
    link = OneTimeLinkFactory()

    response = api.post(
        f"/api/public/links/{link.token}/bookings/", {**body(), **changes}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.exists()


def test_it_answers_404_before_field_errors_for_an_unknown_token(api):
    link = OneTimeLinkFactory()

    statuses = {
        api.post(f"/api/public/links/{bad}/bookings/", {"email": "nope"}, format="json").status_code
        for bad in bad_tokens(link)
    }

    assert statuses == {404}


def test_it_answers_410_before_field_errors_for_a_used_link(api):
    link = OneTimeLinkFactory(used_at=NOW - timedelta(minutes=1))

    response = api.post(
        f"/api/public/links/{link.token}/bookings/", {"email": "nope"}, format="json"
    )

    assert response.status_code == 410
    assert response.json()["state"] == "used"


def test_it_needs_no_authentication_or_csrf(api):
    link = OneTimeLinkFactory()
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")

    assert response.status_code == 201


def test_it_documents_the_public_endpoints_in_the_openapi_schema(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]

    assert "get" in paths["/api/public/links/{token}/"]
    assert "get" in paths["/api/public/links/{token}/slots/"]
    assert "410" in paths["/api/public/links/{token}/bookings/"]["post"]["responses"]


def statements(queries) -> list[str]:
    # Savepoints are bookkeeping of nested atomic blocks, not round trips that read or write.
    return [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]


def test_it_books_through_a_link_in_a_few_statements_more_than_a_plain_booking(api):
    link = OneTimeLinkFactory()
    # The same contact work on both paths: the calendar owner's returning invitee.
    ContactFactory(owner=link.calendar.owner, email="ana@example.com")
    # Both paths once first, so that what each process keeps in memory is kept.
    warm = OneTimeLinkFactory(calendar=link.calendar)
    for path, start in [
        (f"/api/public/calendars/{link.calendar.slug}/bookings/", SLOT + timedelta(hours=2)),
        (f"/api/public/links/{warm.token}/bookings/", SLOT + timedelta(hours=3)),
    ]:
        assert api.post(path, body(start), format="json").status_code == 201
    with CaptureQueriesContext(connection) as plain:
        response = api.post(
            f"/api/public/calendars/{link.calendar.slug}/bookings/",
            body(OTHER_SLOT),
            format="json",
        )
        assert response.status_code == 201
    with CaptureQueriesContext(connection) as through_link:
        response = api.post(f"/api/public/links/{link.token}/bookings/", body(), format="json")
        assert response.status_code == 201

    # Reading the link and claiming it; the calendar is the link's (no lookup by slug).
    assert len(statements(through_link)) <= len(statements(plain)) + 2, "\n".join(
        statements(through_link)
    )
