"""Staff API tokens stored as digests: they authenticate, expire, are revoked, listed in
the admin without their key, and drf_create_token prints a key once."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import APIToken
from accounts.services import api_token_create
from tests.calendars.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def api_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def staff():
    return UserFactory(username="robin", is_staff=True)


def test_it_authenticates_with_the_key_and_stores_only_its_digest(staff):
    token, key = api_token_create(user=staff, name="ci")

    response = api_with(key).get("/api/calendars/")

    assert response.status_code == 200
    token.refresh_from_db()
    assert key not in str(list(APIToken.objects.values()))
    assert token.prefix == key[:8]
    assert len(key) == 40


def test_it_refuses_a_wrong_key_with_a_known_prefix(staff):
    _token, key = api_token_create(user=staff)

    response = api_with(key[:8] + "0" * 32).get("/api/calendars/")

    assert response.status_code == 401


def test_it_refuses_an_expired_token(staff):
    _token, key = api_token_create(user=staff, expires_at=NOW + timedelta(days=1))

    with time_machine.travel(NOW + timedelta(days=1, seconds=1), tick=False):
        response = api_with(key).get("/api/calendars/")

    assert response.status_code == 401


def test_it_accepts_a_token_before_its_expiry(staff):
    _token, key = api_token_create(user=staff, expires_at=NOW + timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        response = api_with(key).get("/api/calendars/")

    assert response.status_code == 200


def test_it_refuses_the_token_of_an_inactive_user(staff):
    _token, key = api_token_create(user=staff)
    staff.is_active = False
    staff.save()

    assert api_with(key).get("/api/calendars/").status_code == 401


def test_it_prints_a_working_key_once_from_drf_create_token(staff):
    out = StringIO()

    call_command("drf_create_token", "robin", stdout=out)

    [key] = re.findall(r"^Generated token ([0-9a-f]{40}) for user robin$", out.getvalue(), re.M)
    assert api_with(key).get("/api/calendars/").status_code == 200
    assert out.getvalue().count(key) == 1
    assert APIToken.objects.filter(user=staff).count() == 1


def test_it_revokes_the_users_other_tokens_with_reset(staff):
    _token, old_key = api_token_create(user=staff)
    out = StringIO()

    call_command("drf_create_token", "robin", "--reset", stdout=out)

    assert api_with(old_key).get("/api/calendars/").status_code == 401
    assert APIToken.objects.filter(user=staff).count() == 1


def test_it_sets_an_expiry_from_the_command(staff):
    with time_machine.travel(NOW, tick=False):
        call_command("drf_create_token", "robin", "--expires-in-days", "30", stdout=StringIO())

    assert APIToken.objects.get(user=staff).expires_at == NOW + timedelta(days=30)


def test_it_refuses_an_unknown_user_in_the_command():
    with pytest.raises(CommandError, match="user nobody does not exist"):
        call_command("drf_create_token", "nobody", stdout=StringIO())


def test_it_lists_tokens_in_the_admin_without_their_key(client, staff):
    token, key = api_token_create(user=staff, name="deploy script")
    client.force_login(staff)

    response = client.get(reverse("admin:accounts_apitoken_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "deploy script" in page
    assert token.prefix in page
    assert key not in page


def test_it_revokes_a_token_from_the_admin(client, staff):
    token, key = api_token_create(user=staff)
    client.force_login(staff)

    response = client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Revoked 1 token." in response.content.decode()
    assert not APIToken.objects.filter(pk=token.pk).exists()
    assert api_with(key).get("/api/calendars/").status_code == 401


def test_it_creates_a_token_in_the_admin_and_shows_the_key_once(client, staff):
    client.force_login(staff)

    response = client.post(
        reverse("admin:accounts_apitoken_add"),
        {"user": staff.pk, "name": "laptop", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    assert response.status_code == 200
    [key] = re.findall(r"Generated token ([0-9a-f]{40}) for user", response.content.decode())
    assert APIToken.objects.get().name == "laptop"
    assert api_with(key).get("/api/calendars/").status_code == 200


def test_it_hides_another_staff_users_tokens_in_the_admin(client, staff):
    other_token, _key = api_token_create(user=UserFactory(is_staff=True), name="theirs")
    client.force_login(staff)

    listing = client.get(reverse("admin:accounts_apitoken_changelist"))
    detail = client.get(reverse("admin:accounts_apitoken_change", args=[other_token.pk]))

    assert "theirs" not in listing.content.decode()
    assert detail.status_code == 302  # the admin's "does not exist" redirect


def test_it_keeps_tokens_working_across_a_secret_key_rotation(staff, settings):
    _token, key = api_token_create(user=staff)
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-" * 2

    assert api_with(key).get("/api/calendars/").status_code == 200
