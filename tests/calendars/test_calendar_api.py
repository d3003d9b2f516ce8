from datetime import date, time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.services import api_token_create
from calendars.models import Calendar, DateOverride
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, DateOverrideFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/calendars/"

ISSUE_EXAMPLE = {
    "name": "Consult",
    "slug": "consult",
    "timezone": "America/New_York",
    "description": "",
    "duration_minutes": 30,
    "slot_interval_minutes": 30,
    "buffer_before_minutes": 0,
    "buffer_after_minutes": 15,
    "min_notice_minutes": 60,
    "booking_window_days": 60,
    "seats_per_slot": 1,
    "max_bookings_per_day": None,
    "is_active": True,
    "weekly_hours": [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 0, "start": "13:00", "end": "17:00"},
    ],
    "date_overrides": [
        {"date": "2027-03-15", "intervals": [{"start": "13:00", "end": "15:00"}]},
        {"date": "2027-03-16", "intervals": []},
    ],
}


def detail_url(calendar: Calendar) -> str:
    return f"{LIST_URL}{calendar.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff():
    return UserFactory()


@pytest.fixture
def api(staff) -> APIClient:
    return client_for(staff)


def payload(**changes) -> dict:
    data = {**ISSUE_EXAMPLE, **changes}
    return data


# --- create and read back -------------------------------------------------------------


def test_it_creates_a_calendar_in_the_issue_shape(api, staff):
    response = api.post(LIST_URL, payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    calendar = Calendar.objects.get(pk=body["id"])
    assert calendar.owner == staff
    # Grown since: use_connected_calendars (default true) and language (empty: the invitee's
    # browser language).
    assert body["use_connected_calendars"] is True
    assert body["language"] == ""
    grown = ("id", "links", "use_connected_calendars", "language")
    assert {k: v for k, v in body.items() if k not in grown} == ISSUE_EXAMPLE
    assert list(calendar.date_overrides.values_list("date", "start", "end")) == [
        (date(2027, 3, 15), time(13), time(15)),
        (date(2027, 3, 16), None, None),
    ]


def test_it_answers_with_absolute_links_and_an_embed_snippet(api):
    body = api.post(LIST_URL, payload(), format="json").json()
    calendar = Calendar.objects.get(pk=body["id"])
    assert body["links"]["scheduling"] == settings.SITE_URL + calendar.scheduling_path()
    assert body["links"]["permanent"] == settings.SITE_URL + calendar.permanent_path()
    assert body["links"]["embed"].startswith("<iframe ")
    assert f'src="{settings.SITE_URL}{calendar.embed_path()}"' in body["links"]["embed"]


def test_it_uses_the_duration_when_the_slot_interval_is_omitted(api):
    data = payload(duration_minutes=45)
    del data["slot_interval_minutes"]
    response = api.post(LIST_URL, data, format="json")
    assert response.status_code == 201
    assert response.json()["slot_interval_minutes"] == 45


def test_it_uses_the_duration_when_the_slot_interval_is_null(api):
    response = api.post(
        LIST_URL, payload(duration_minutes=20, slot_interval_minutes=None), format="json"
    )
    assert response.status_code == 201
    assert response.json()["slot_interval_minutes"] == 20


def test_it_accepts_a_token(staff):
    _token, key = api_token_create(user=staff)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(LIST_URL, payload(), format="json")
    assert response.status_code == 201


def test_it_accepts_the_session(staff, client):
    client.force_login(staff)
    CalendarFactory(owner=staff)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert len(response.json()) == 1


# --- validation errors ----------------------------------------------------------------


def test_it_refuses_an_unknown_timezone(api):
    response = api.post(LIST_URL, payload(timezone="Mars/Olympus"), format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()
    assert not Calendar.objects.exists()


def test_it_refuses_a_zero_duration(api):
    response = api.post(LIST_URL, payload(duration_minutes=0), format="json")
    assert response.status_code == 400
    assert "duration_minutes" in response.json()


def test_it_refuses_a_taken_slug(api):
    CalendarFactory(slug="consult")
    response = api.post(LIST_URL, payload(), format="json")
    assert response.status_code == 400
    assert "slug" in response.json()


def test_it_refuses_a_missing_name(api):
    data = payload()
    del data["name"]
    response = api.post(LIST_URL, data, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_it_refuses_weekly_hours_ending_before_they_start(api):
    hours = [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 1, "start": "12:00", "end": "09:00"},
    ]
    response = api.post(LIST_URL, payload(weekly_hours=hours), format="json")
    assert response.status_code == 400
    assert response.json()["weekly_hours"]["1"]["end"] == ["The end must be after the start."]
    assert "0" not in response.json()["weekly_hours"]


def test_it_refuses_overlapping_weekly_hours(api):
    hours = [
        {"weekday": 2, "start": "09:00", "end": "12:00"},
        {"weekday": 2, "start": "11:00", "end": "13:00"},
    ]
    response = api.post(LIST_URL, payload(weekly_hours=hours), format="json")
    assert response.status_code == 400
    assert "overlaps 09:00-12:00" in response.json()["weekly_hours"]["1"]["start"][0]


def test_it_refuses_a_weekday_out_of_range(api):
    hours = [{"weekday": 7, "start": "09:00", "end": "12:00"}]
    response = api.post(LIST_URL, payload(weekly_hours=hours), format="json")
    assert response.status_code == 400
    assert "weekday" in response.json()["weekly_hours"]["0"]


def test_it_refuses_a_malformed_time(api):
    hours = [{"weekday": 0, "start": "9am", "end": "12:00"}]
    response = api.post(LIST_URL, payload(weekly_hours=hours), format="json")
    assert response.status_code == 400
    assert "start" in response.json()["weekly_hours"]["0"]


def test_it_refuses_overlapping_override_intervals(api):
    overrides = [
        {
            "date": "2027-03-15",
            "intervals": [{"start": "09:00", "end": "11:00"}, {"start": "10:00", "end": "12:00"}],
        }
    ]
    response = api.post(LIST_URL, payload(date_overrides=overrides), format="json")
    assert response.status_code == 400
    errors = response.json()["date_overrides"]["0"]["intervals"]
    assert "overlaps" in errors["1"]["start"][0]


def test_it_refuses_an_override_date_listed_twice(api):
    overrides = [
        {"date": "2027-03-15", "intervals": []},
        {"date": "2027-03-15", "intervals": [{"start": "09:00", "end": "10:00"}]},
    ]
    response = api.post(LIST_URL, payload(date_overrides=overrides), format="json")
    assert response.status_code == 400
    assert "date" in response.json()["date_overrides"]["1"]


def test_it_refuses_a_malformed_override_date(api):
    overrides = [{"date": "15/03/2027", "intervals": []}]
    response = api.post(LIST_URL, payload(date_overrides=overrides), format="json")
    assert response.status_code == 400
    assert "date" in response.json()["date_overrides"]["0"]


# --- list, retrieve, update, delete -----------------------------------------------------


def test_it_lists_only_own_calendars(api, staff):
    mine = CalendarFactory(owner=staff)
    CalendarFactory()
    response = api.get(LIST_URL)
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == [mine.pk]


def test_it_lists_every_calendar_for_a_superuser():
    CalendarFactory()
    CalendarFactory()
    response = client_for(UserFactory(is_superuser=True)).get(LIST_URL)
    assert response.status_code == 200
    assert len(response.json()) == 2


def test_it_lists_with_a_bounded_number_of_queries(api, staff, django_assert_max_num_queries):
    for _ in range(8):
        calendar = CalendarFactory(owner=staff)
        DateOverrideFactory(calendar=calendar, date=date(2027, 1, 1))
    with django_assert_max_num_queries(3):
        response = api.get(LIST_URL)
    assert len(response.json()) == 8


def test_it_retrieves_an_own_calendar_with_closed_dates(api, staff):
    calendar = CalendarFactory(owner=staff)
    DateOverrideFactory(calendar=calendar, date=date(2027, 3, 16), start=None, end=None)
    response = api.get(detail_url(calendar))
    assert response.status_code == 200
    assert response.json()["date_overrides"] == [{"date": "2027-03-16", "intervals": []}]
    assert response.json()["weekly_hours"][0] == {"weekday": 0, "start": "09:00", "end": "17:00"}


def test_it_replaces_hours_on_put(api, staff):
    calendar = CalendarFactory(owner=staff)
    response = api.put(detail_url(calendar), payload(slug=calendar.slug), format="json")
    assert response.status_code == 200, response.json()
    calendar.refresh_from_db()
    assert calendar.name == "Consult"
    assert calendar.weekly_hours.count() == 2
    assert calendar.date_overrides.count() == 2
    assert response.json()["weekly_hours"] == ISSUE_EXAMPLE["weekly_hours"]


def test_it_patches_one_field_and_keeps_the_hours(api, staff):
    calendar = CalendarFactory(owner=staff)
    response = api.patch(detail_url(calendar), {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    calendar.refresh_from_db()
    assert calendar.name == "Renamed"
    assert calendar.weekly_hours.count() == 5


def test_it_refuses_a_bad_patch_and_changes_nothing(api, staff):
    calendar = CalendarFactory(owner=staff)
    response = api.patch(detail_url(calendar), {"timezone": "Nowhere/Land"}, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()
    calendar.refresh_from_db()
    assert calendar.timezone == "UTC"


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"date_overrides": [{"date": "2027-03-15"}]},
            {"date_overrides": {"0": {"intervals": ["This field is required."]}}},
        ),
        (
            {"date_overrides": [{"date": "2027-03-15", "intervals": [{"start": "09:00"}]}]},
            {"date_overrides": {"0": {"intervals": {"0": {"end": ["This field is required."]}}}}},
        ),
        (
            {"weekly_hours": [{"start": "09:00", "end": "12:00"}]},
            {"weekly_hours": {"0": {"weekday": ["This field is required."]}}},
        ),
    ],
)
def test_it_refuses_an_incomplete_hours_item_in_a_patch(api, staff, data, errors):
    # DRF skips nested required fields in a partial update: these were KeyErrors (500).
    calendar = CalendarFactory(owner=staff)
    response = api.patch(detail_url(calendar), data, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    calendar.refresh_from_db()
    assert calendar.weekly_hours.count() == 5
    assert calendar.date_overrides.count() == 0


def test_it_deletes_an_own_calendar(api, staff):
    calendar = CalendarFactory(owner=staff)
    response = api.delete(detail_url(calendar))
    assert response.status_code == 204
    assert not Calendar.objects.filter(pk=calendar.pk).exists()
    assert not DateOverride.objects.filter(calendar_id=calendar.pk).exists()


def test_it_refuses_to_delete_a_calendar_with_bookings(api, staff):
    booking = BookingFactory(calendar=CalendarFactory(owner=staff))
    response = api.delete(detail_url(booking.calendar))
    assert response.status_code == 409
    assert "is_active" in response.json()["detail"]
    assert Calendar.objects.filter(pk=booking.calendar_id).exists()


# --- ownership: every endpoint ----------------------------------------------------------

DETAIL_CALLS = [
    ("get", None),
    ("put", ISSUE_EXAMPLE),
    ("patch", {"name": "Taken over"}),
    ("delete", None),
]


@pytest.mark.parametrize(("method", "data"), DETAIL_CALLS)
def test_it_hides_another_staff_users_calendar(api, method, data):
    calendar = CalendarFactory()
    response = getattr(api, method)(detail_url(calendar), data, format="json")
    assert response.status_code == 404
    calendar.refresh_from_db()
    assert calendar.name != "Taken over"


@pytest.mark.parametrize(("method", "data"), DETAIL_CALLS)
def test_it_lets_a_superuser_reach_any_calendar(method, data):
    calendar = CalendarFactory()
    client = client_for(UserFactory(is_superuser=True))
    response = getattr(client, method)(detail_url(calendar), data, format="json")
    assert response.status_code in (200, 204)


EVERY_CALL = [("list", None), ("post", ISSUE_EXAMPLE), *DETAIL_CALLS]


def call(client: APIClient, method: str, calendar: Calendar, data):
    if method == "list":
        return client.get(LIST_URL)
    if method == "post":
        return client.post(LIST_URL, data, format="json")
    return getattr(client, method)(detail_url(calendar), data, format="json")


@pytest.mark.parametrize(("method", "data"), EVERY_CALL)
def test_it_forbids_a_non_staff_user(method, data):
    calendar = CalendarFactory()
    response = call(client_for(UserFactory(is_staff=False)), method, calendar, data)
    assert response.status_code == 403
    assert Calendar.objects.count() == 1


@pytest.mark.parametrize(("method", "data"), EVERY_CALL)
def test_it_asks_an_anonymous_client_to_authenticate(method, data):
    calendar = CalendarFactory()
    response = call(APIClient(), method, calendar, data)
    assert response.status_code == 401
    assert Calendar.objects.count() == 1


def test_it_sets_a_calendars_language(api):
    response = api.post(LIST_URL, payload(language="de"), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["language"] == "de"
    assert Calendar.objects.get(pk=response.json()["id"]).language == "de"


def test_it_refuses_a_language_it_does_not_offer(api):
    response = api.post(LIST_URL, payload(language="xx"), format="json")

    assert response.status_code == 400
    assert "language" in response.json()
    assert not Calendar.objects.exists()
