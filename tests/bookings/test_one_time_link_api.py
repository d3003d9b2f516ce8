"""Staff API of one-time links: generate, list with ?state=, revoke; ownership of each."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create
from bookings.models import OneTimeLink
from bookings.services.one_time_links import one_time_link_get_by_token
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db

LINK_KEYS = {
    "id",
    "url",
    "token",
    "state",
    "calendar",
    "contact",
    "expires_at",
    "created_at",
    "label",
    "max_uses",
    "uses",
    "bookable_from",
    "bookable_until",
    "lock_to_contact",
    "source",
    "first_opened_at",
    "open_count",
}


def client_for(user) -> APIClient:
    client = APIClient()
    _token, key = api_token_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def links_url(calendar) -> str:
    return f"/api/calendars/{calendar.pk}/one-time-links/"


def test_it_generates_a_link_with_exactly_the_documented_fields(settings):
    calendar = CalendarFactory()

    response = client_for(calendar.owner).post(links_url(calendar), {}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == LINK_KEYS
    link = OneTimeLink.objects.get(pk=body["id"])
    assert body["token"] == link.token
    assert body["url"] == f"{settings.SITE_URL}/l/{link.token}/"
    assert body["state"] == "active"
    assert body["calendar"] == calendar.pk
    assert body["contact"] is None
    assert body["expires_at"] is None
    assert link.created_by == calendar.owner
    assert one_time_link_get_by_token(token=body["token"]) == link


def test_it_generates_a_link_for_a_contact_with_label_and_expiry():
    calendar = CalendarFactory()
    contact = ContactFactory(owner=calendar.owner)
    expires = (timezone.now() + timedelta(days=7)).replace(microsecond=0)

    response = client_for(calendar.owner).post(
        links_url(calendar),
        {"contact": contact.pk, "label": "Ana follow-up", "expires_at": expires.isoformat()},
        format="json",
    )

    assert response.status_code == 201
    link = OneTimeLink.objects.get(pk=response.json()["id"])
    assert response.json()["contact"] == contact.pk
    assert link.contact == contact
    assert link.label == "Ana follow-up"
    assert link.expires_at == expires


def test_it_refuses_a_link_for_another_staff_users_contact_as_for_an_unknown_one():
    calendar = CalendarFactory()
    theirs = ContactFactory()

    response = client_for(calendar.owner).post(
        links_url(calendar), {"contact": theirs.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["contact"] == [f'Invalid pk "{theirs.pk}" - object does not exist.']
    assert not OneTimeLink.objects.exists()


def test_it_refuses_a_superuser_a_link_for_a_contact_of_another_owner_than_the_calendars():
    calendar = CalendarFactory()
    theirs = ContactFactory()

    response = client_for(UserFactory(is_superuser=True)).post(
        links_url(calendar), {"contact": theirs.pk}, format="json"
    )

    assert response.status_code == 400
    assert "contact" in response.json()
    assert not OneTimeLink.objects.exists()


def test_it_works_with_a_session_too():
    calendar = CalendarFactory()
    client = APIClient()
    client.force_login(calendar.owner)

    response = client.post(links_url(calendar), {}, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contact": 999999}, "contact"),
        ({"expires_at": "not a date"}, "expires_at"),
        ({"label": "x" * 201}, "label"),
    ],
)
def test_it_answers_bad_input_with_field_errors(body, field):
    calendar = CalendarFactory()

    response = client_for(calendar.owner).post(links_url(calendar), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not OneTimeLink.objects.exists()


def test_it_refuses_an_expiry_in_the_past():
    calendar = CalendarFactory()
    past = timezone.now() - timedelta(minutes=1)

    response = client_for(calendar.owner).post(
        links_url(calendar), {"expires_at": past.isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert "expires_at" in response.json()
    assert not OneTimeLink.objects.exists()


def test_it_hides_another_staffs_calendar_when_generating():
    calendar = CalendarFactory()

    response = client_for(UserFactory()).post(links_url(calendar), {}, format="json")

    assert response.status_code == 404
    assert not OneTimeLink.objects.exists()


def test_it_lets_a_superuser_generate_for_any_calendar():
    calendar = CalendarFactory()

    response = client_for(UserFactory(is_superuser=True)).post(
        links_url(calendar), {}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_non_staff_and_anonymous(method):
    calendar = CalendarFactory()
    invitee = UserFactory(is_staff=False)

    anonymous = getattr(APIClient(), method)(links_url(calendar))
    non_staff = getattr(client_for(invitee), method)(links_url(calendar))

    assert anonymous.status_code == 401
    assert non_staff.status_code == 403
    assert not OneTimeLink.objects.exists()


def _links_in_every_state(calendar):
    now = timezone.now()
    return {
        "active": OneTimeLinkFactory(calendar=calendar),
        "active_until_later": OneTimeLinkFactory(
            calendar=calendar, expires_at=now + timedelta(hours=1)
        ),
        "used": BookingFactory(
            calendar=calendar,
            one_time_link=OneTimeLinkFactory(calendar=calendar, used_at=now),
        ).one_time_link,
        "used_then_expired": OneTimeLinkFactory(
            calendar=calendar,
            used_at=now - timedelta(hours=2),
            expires_at=now - timedelta(hours=1),
        ),
        "expired": OneTimeLinkFactory(calendar=calendar, expires_at=now - timedelta(seconds=1)),
        "revoked": OneTimeLinkFactory(calendar=calendar, revoked_at=now),
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("active", {"active", "active_until_later"}),
        ("used", {"used", "used_then_expired"}),
        ("expired", {"expired"}),
        ("revoked", {"revoked"}),
    ],
)
def test_it_filters_the_list_by_derived_state(state, expected):
    calendar = CalendarFactory()
    links = _links_in_every_state(calendar)
    OneTimeLinkFactory()  # another calendar's link never shows

    response = client_for(calendar.owner).get(links_url(calendar), {"state": state})

    assert response.status_code == 200
    assert {row["id"] for row in response.json()} == {links[name].pk for name in expected}
    assert {row["state"] for row in response.json()} == {state}


def test_it_lists_all_links_newest_first_without_a_filter(django_assert_max_num_queries):
    calendar = CalendarFactory()
    links = _links_in_every_state(calendar)
    client = client_for(calendar.owner)

    with django_assert_max_num_queries(4):
        response = client.get(links_url(calendar))

    assert response.status_code == 200
    assert len(response.json()) == len(links)
    assert set(response.json()[0]) == LINK_KEYS


def test_it_refuses_an_unknown_state_filter():
    calendar = CalendarFactory()

    response = client_for(calendar.owner).get(links_url(calendar), {"state": "zombie"})

    assert response.status_code == 400
    assert "state" in response.json()


def test_it_hides_another_staffs_calendar_when_listing():
    calendar = CalendarFactory()
    OneTimeLinkFactory(calendar=calendar)

    response = client_for(UserFactory()).get(links_url(calendar))

    assert response.status_code == 404


def test_it_revokes_a_link():
    link = OneTimeLinkFactory()

    with time_machine.travel("2030-01-07 10:00:00+00:00", tick=False):
        response = client_for(link.calendar.owner).post(f"/api/one-time-links/{link.pk}/revoke/")
        now = timezone.now()

    assert response.status_code == 200
    assert response.json()["state"] == "revoked"
    link.refresh_from_db()
    assert link.revoked_at == now


def test_it_revokes_idempotently():
    link = OneTimeLinkFactory(revoked_at=timezone.now() - timedelta(days=1))
    first_revoked_at = link.revoked_at

    response = client_for(link.calendar.owner).post(f"/api/one-time-links/{link.pk}/revoke/")

    assert response.status_code == 200
    link.refresh_from_db()
    assert link.revoked_at == first_revoked_at


def test_it_does_not_revoke_a_used_link():
    link = OneTimeLinkFactory(used_at=timezone.now())

    response = client_for(link.calendar.owner).post(f"/api/one-time-links/{link.pk}/revoke/")

    assert response.status_code == 200
    assert response.json()["state"] == "used"
    link.refresh_from_db()
    assert link.revoked_at is None


def test_it_hides_another_staffs_link_when_revoking():
    link = OneTimeLinkFactory()

    response = client_for(UserFactory()).post(f"/api/one-time-links/{link.pk}/revoke/")

    assert response.status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_it_lets_a_superuser_revoke_any_link():
    link = OneTimeLinkFactory()

    response = client_for(UserFactory(is_superuser=True)).post(
        f"/api/one-time-links/{link.pk}/revoke/"
    )

    assert response.status_code == 200
    link.refresh_from_db()
    assert link.revoked_at is not None


def test_it_documents_the_endpoints_in_the_openapi_schema():
    response = client_for(UserFactory(is_superuser=True)).get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/calendars/{calendar_id}/one-time-links/"])
    assert "post" in paths["/api/one-time-links/{link_id}/revoke/"]
