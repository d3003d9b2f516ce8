from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from bookings.models import Booking, BookingSource
from bookings.serializers import BookingSerializer
from bookings.services.bookings import booking_cancel
from calendars.models import Calendar
from contacts.models import Contact
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)  # a Wednesday
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # Monday 10:00, inside the factory's hours
OTHER_SLOT = datetime(2027, 3, 15, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api():
    return APIClient()


def url(calendar) -> str:
    return f"/api/public/calendars/{calendar.slug}/bookings/"


def body(**overrides) -> dict:
    data = {
        "start": "2027-03-15T11:00:00+01:00",  # SLOT, given in Berlin's offset
        "name": "Jamie Rivera",
        "email": "jamie@example.com",
        "timezone": "Europe/Berlin",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# Public: POST /api/public/calendars/<slug>/bookings/


def test_it_creates_a_booking_and_answers_201(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(phone="+49 30 1", notes="Hi"), format="json")

    assert response.status_code == 201
    booking = Booking.objects.get()
    assert booking.start == SLOT
    assert booking.source == BookingSource.API
    assert booking.invitee_phone == "+49 30 1"
    assert booking.contact == Contact.objects.get(email="jamie@example.com")
    data = response.json()
    assert data["id"] == booking.pk
    assert data["status"] == "confirmed"
    assert data["calendar"] == calendar.slug
    assert datetime.fromisoformat(data["start"]) == SLOT
    assert datetime.fromisoformat(data["end"]) == SLOT + timedelta(minutes=30)
    assert data["start"].endswith("+01:00")  # shown in the invitee's timezone
    assert data["timezone"] == "Europe/Berlin"
    assert data["name"] == "Jamie Rivera"
    assert data["email"] == "jamie@example.com"


def test_it_answers_absolute_management_urls_with_the_booking_token(api):
    calendar = CalendarFactory()

    data = api.post(url(calendar), body(), format="json").json()

    token = Booking.objects.get().token
    assert data["cancel_url"] == f"http://testserver/b/{token}/cancel/"
    assert data["reschedule_url"] == f"http://testserver/b/{token}/reschedule/"
    assert data["ics_url"] == f"http://testserver/b/{token}/invite.ics"


def test_it_accepts_a_utc_start_written_with_z(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(start="2027-03-15T10:00:00Z"), format="json")

    assert response.status_code == 201
    assert Booking.objects.get().start == SLOT


def test_it_needs_no_csrf_token_or_session(api):
    calendar = CalendarFactory()
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(url(calendar), body(), format="json")

    assert response.status_code == 201


def test_it_answers_400_with_field_errors_for_missing_fields(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"start", "name", "email", "timezone"}
    assert not Booking.objects.exists()


def test_it_answers_400_for_a_start_without_offset(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(start="2027-03-15T10:00:00"), format="json")

    assert response.status_code == 400
    assert "offset" in response.json()["start"][0]
    assert not Booking.objects.exists()


@pytest.mark.parametrize("start", ["tomorrow at ten", "2027-13-45T10:00:00Z", "", 12345])
def test_it_answers_400_for_a_malformed_start(api, start):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(start=start), format="json")

    assert response.status_code == 400
    assert "start" in response.json()


def test_it_answers_400_for_an_unknown_timezone(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(timezone="Mars/Olympus"), format="json")

    assert response.status_code == 400
    assert "timezone" in response.json()


def test_it_answers_400_for_a_bad_email(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(email="jamie-at-example"), format="json")

    assert response.status_code == 400
    assert "email" in response.json()


def test_it_answers_400_for_a_too_long_name(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(name="x" * 201), format="json")

    assert response.status_code == 400
    assert "name" in response.json()


def test_it_answers_400_when_consent_is_required_and_missing(api):
    calendar = CalendarFactory(requires_consent=True, consent_text="I agree.")

    response = api.post(url(calendar), body(), format="json")

    assert response.status_code == 400
    assert "consent" in response.json()
    assert not Booking.objects.exists()


def test_it_books_when_consent_is_required_and_given(api):
    calendar = CalendarFactory(requires_consent=True, consent_text="I agree.")

    response = api.post(url(calendar), body(consent=True), format="json")

    assert response.status_code == 201


def test_it_answers_409_when_the_time_is_taken(api):
    calendar = CalendarFactory()
    BookingFactory(calendar=calendar, start=SLOT)

    response = api.post(url(calendar), body(), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert "Pick another time" in response.json()["detail"]
    assert Booking.objects.count() == 1


def test_it_answers_409_for_a_start_that_is_not_a_slot_start(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(start="2027-03-15T10:07:00Z"), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert not Booking.objects.exists()


@pytest.mark.parametrize("start", ["9999-12-31T23:30:00+00:00", "0001-01-01T00:00:00-01:00"])
def test_it_answers_409_for_a_start_at_the_ends_of_time(api, start):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(start=start), format="json")

    assert response.status_code == 409
    assert not Booking.objects.exists()


def test_it_answers_400_for_a_start_that_cannot_be_expressed_in_utc(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(start="0001-01-01T00:00:00+05:00"), format="json")

    assert response.status_code == 400
    assert "start" in response.json()


def test_it_answers_404_for_an_unknown_calendar(api):
    response = api.post("/api/public/calendars/no-such/bookings/", body(), format="json")

    assert response.status_code == 404


def test_it_answers_404_for_an_inactive_calendar(api):
    calendar = CalendarFactory(is_active=False)

    response = api.post(url(calendar), body(), format="json")

    assert response.status_code == 404
    assert not Booking.objects.exists()


# The booking reads the calendar again under its lock: what counts is the calendar now.


def test_it_books_the_calendar_that_has_the_slug_now(api):
    renamed = CalendarFactory(slug="roof-consult")
    api.post("/api/public/calendars/roof-consult/bookings/", body(), format="json")
    Calendar.objects.filter(pk=renamed.pk).update(slug="roof-consult-old")
    successor = CalendarFactory(slug="roof-consult")

    response = api.post("/api/public/calendars/roof-consult/bookings/", body(), format="json")

    assert response.status_code == 201
    assert Booking.objects.get(calendar=successor).start == SLOT


def test_it_asks_for_consent_a_calendar_started_requiring_since_it_was_read(api):
    calendar = CalendarFactory()
    Calendar.objects.filter(pk=calendar.pk).update(requires_consent=True, consent_text="Yes.")

    response = api.post(url(calendar), body(), format="json")

    assert response.status_code == 400
    assert "consent" in response.json()
    assert not Booking.objects.exists()


def test_it_books_in_a_window_widened_since_the_calendar_was_read(api):
    calendar = CalendarFactory(booking_window_days=7)
    Calendar.objects.filter(pk=calendar.pk).update(booking_window_days=60)
    later = SLOT + timedelta(days=28)  # a Monday four weeks on

    response = api.post(url(calendar), body(start=later.isoformat()), format="json")

    assert response.status_code == 201
    assert Booking.objects.get().start == later


def test_it_answers_with_the_booking_serializers_shape(api):
    calendar = CalendarFactory()

    response = api.post(url(calendar), body(), format="json")

    booking = Booking.objects.get()
    assert response.json() == dict(BookingSerializer(booking).data)


def test_it_books_in_a_bounded_number_of_queries(api, django_assert_max_num_queries):
    calendar = CalendarFactory()
    api.post(url(calendar), body(start="2027-03-15T12:00:00+01:00"), format="json")

    # A handful, whatever the calendar holds: no query per booking, hour or workflow.
    with django_assert_max_num_queries(16):
        response = api.post(url(calendar), body(email="other@example.com"), format="json")

    assert response.status_code == 201


@override_settings(THROTTLE_PUBLIC_RATE="2/min")
def test_it_answers_429_past_the_public_rate(api):
    cache.clear()
    calendar = CalendarFactory()
    statuses = [
        api.post(url(calendar), body(start=start), format="json").status_code
        for start in ("2027-03-15T10:00:00Z", "2027-03-15T10:30:00Z", "2027-03-15T11:00:00Z")
    ]

    assert statuses == [201, 201, 429]
    assert Booking.objects.count() == 2
    cache.clear()


# Staff: GET /api/bookings/, GET /api/bookings/<id>/, POST /api/bookings/<id>/cancel/


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def staff_api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return client


def test_it_lists_only_the_bookings_of_my_calendars(staff_api, owner):
    mine = BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT)
    BookingFactory(start=SLOT)  # someone else's calendar

    response = staff_api.get("/api/bookings/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    assert [b["id"] for b in data["results"]] == [mine.pk]
    assert data["results"][0]["source"] == mine.source
    assert data["results"][0]["calendar_id"] == mine.calendar_id


def test_it_lists_every_booking_for_a_superuser():
    admin = UserFactory(is_superuser=True)
    BookingFactory(start=SLOT)
    BookingFactory(start=SLOT)
    client = APIClient()
    client.force_authenticate(admin)

    response = client.get("/api/bookings/")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_it_filters_the_list_by_calendar(staff_api, owner):
    first = CalendarFactory(owner=owner)
    second = CalendarFactory(owner=owner)
    wanted = BookingFactory(calendar=first, start=SLOT)
    BookingFactory(calendar=second, start=SLOT)

    response = staff_api.get("/api/bookings/", {"calendar": first.pk})

    assert [b["id"] for b in response.json()["results"]] == [wanted.pk]


def test_it_filters_the_list_by_status(staff_api, owner):
    calendar = CalendarFactory(owner=owner)
    BookingFactory(calendar=calendar, start=SLOT)
    cancelled = BookingFactory(calendar=calendar, start=OTHER_SLOT)
    booking_cancel(booking=cancelled)

    response = staff_api.get("/api/bookings/", {"status": "cancelled"})

    assert [b["id"] for b in response.json()["results"]] == [cancelled.pk]


def test_it_filters_the_list_by_start_range(staff_api, owner):
    calendar = CalendarFactory(owner=owner)
    BookingFactory(calendar=calendar, start=SLOT)
    later = BookingFactory(calendar=calendar, start=OTHER_SLOT)

    response = staff_api.get(
        "/api/bookings/",
        {"start_after": "2027-03-15T12:00:00Z", "start_before": "2027-03-16T00:00:00Z"},
    )

    assert [b["id"] for b in response.json()["results"]] == [later.pk]


def test_it_filters_the_list_by_date_in_a_timezone(staff_api, owner):
    calendar = CalendarFactory(owner=owner)
    late_evening = BookingFactory(calendar=calendar, start=datetime(2027, 3, 16, 2, tzinfo=UTC))
    BookingFactory(calendar=calendar, start=datetime(2027, 3, 16, 10, tzinfo=UTC))

    # 02:00 UTC on the 16th is still the 15th in New York.
    response = staff_api.get(
        "/api/bookings/", {"date": "2027-03-15", "timezone": "America/New_York"}
    )

    assert [b["id"] for b in response.json()["results"]] == [late_evening.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "maybe"},
        {"calendar": "abc"},
        {"date": "15/03/2027"},
        {"start_after": "2027-03-15T12:00:00"},
        {"timezone": "Nowhere/Land", "date": "2027-03-15"},
        {"start_after": "2027-03-16T00:00:00Z", "start_before": "2027-03-15T00:00:00Z"},
        {"date": "9999-12-31"},
        {"date": "0001-01-01"},
        {"start_before": "0001-01-01T00:00:00+01:00"},
    ],
)
def test_it_answers_400_for_bad_list_filters(staff_api, params):
    response = staff_api.get("/api/bookings/", params)

    assert response.status_code == 400
    assert set(response.json()) <= {*params}


def test_it_reads_an_offset_beyond_what_postgresql_stores_as_the_same_instant(staff_api):
    # Python accepts offsets up to +-23:59, PostgreSQL only +-15:59: filter in UTC.
    response = staff_api.get("/api/bookings/", {"start_after": "0079-03-01T01:12:47+23:16"})

    assert response.status_code == 200


def test_it_bounds_the_queries_of_the_list(staff_api, owner, django_assert_max_num_queries):
    calendar = CalendarFactory(owner=owner)
    for hour in range(9, 17):
        BookingFactory(calendar=calendar, start=datetime(2027, 3, 15, hour, tzinfo=UTC))

    with django_assert_max_num_queries(3):
        response = staff_api.get("/api/bookings/")

    assert response.json()["count"] == 8


def test_it_shows_one_booking_of_my_calendar(staff_api, owner):
    booking = BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT, notes="Roof")

    response = staff_api.get(f"/api/bookings/{booking.pk}/")

    assert response.status_code == 200
    assert response.json()["notes"] == "Roof"
    assert response.json()["cancel_url"].endswith(f"/b/{booking.token}/cancel/")


def test_it_hides_a_booking_of_another_staff_members_calendar(staff_api):
    booking = BookingFactory(start=SLOT)

    response = staff_api.get(f"/api/bookings/{booking.pk}/")

    assert response.status_code == 404


def test_it_cancels_a_booking_of_my_calendar(staff_api, owner, django_capture_on_commit_callbacks):
    booking = BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT)

    with django_capture_on_commit_callbacks(execute=False):
        response = staff_api.post(
            f"/api/bookings/{booking.pk}/cancel/", {"reason": "Double-booked"}, format="json"
        )

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancel_reason == "Double-booked"


def test_it_cancels_without_a_body_and_twice_harmlessly(staff_api, owner):
    booking = BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT)

    first = staff_api.post(f"/api/bookings/{booking.pk}/cancel/")
    second = staff_api.post(f"/api/bookings/{booking.pk}/cancel/")

    assert (first.status_code, second.status_code) == (200, 200)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_it_refuses_to_cancel_a_booking_of_another_staff_members_calendar(staff_api):
    booking = BookingFactory(start=SLOT)

    response = staff_api.post(f"/api/bookings/{booking.pk}/cancel/")

    assert response.status_code == 404
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/bookings/"),
        ("get", "/api/bookings/{id}/"),
        ("post", "/api/bookings/{id}/cancel/"),
    ],
)
def test_it_refuses_non_staff_users_with_403(method, path):
    booking = BookingFactory(start=SLOT)
    client = APIClient()
    client.force_authenticate(UserFactory(is_staff=False))

    response = getattr(client, method)(path.format(id=booking.pk))

    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/bookings/"),
        ("get", "/api/bookings/{id}/"),
        ("post", "/api/bookings/{id}/cancel/"),
    ],
)
def test_it_refuses_anonymous_callers_with_401(api, method, path):
    booking = BookingFactory(start=SLOT)

    response = getattr(api, method)(path.format(id=booking.pk))

    assert response.status_code == 401
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_it_accepts_a_staff_token(owner):
    from accounts.services import api_token_create

    BookingFactory(calendar=CalendarFactory(owner=owner), start=SLOT)
    _token, key = api_token_create(user=owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get("/api/bookings/")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_it_lists_every_booking_endpoint_in_the_schema(api):
    api.force_authenticate(UserFactory(is_staff=True))  # staff operations need a staff login
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/api/public/calendars/{slug}/bookings/"]
    assert "get" in paths["/api/bookings/"]
    assert "get" in paths["/api/bookings/{id}/"]
    assert "post" in paths["/api/bookings/{id}/cancel/"]
