"""Nothing in a copy of the database signs anyone in (issue 13, "Nothing usable in a
database copy"): after signing in through the admin and the API, every text value of
every table is tried as a session cookie and as an API token."""

import re
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.sessions import session_key_digest
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.db_dump import every_value_in_the_database

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    user.set_password("a long admin password")
    user.save()
    CalendarFactory(owner=user)
    return user


def admin_login(client: Client) -> str:
    response = client.post(
        "/admin/login/", {"username": "root", "password": "a long admin password"}
    )
    assert response.status_code == 302
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def signs_in_as_session(value: str) -> bool:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = value
    return client.get("/admin/").status_code == 200


def signs_in_as_token(value: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {value}")
    return client.get("/api/calendars/").status_code == 200


def test_it_leaves_no_value_that_signs_in(superuser):
    cookie = admin_login(Client())
    out = StringIO()
    call_command("drf_create_token", "root", stdout=out)
    [key] = re.findall(r"Generated token (\S+) for user root", out.getvalue())
    # Both work, so the dump below is taken while they are live.
    assert signs_in_as_session(cookie)
    assert signs_in_as_token(key)

    values = every_value_in_the_database()

    assert cookie not in values and key not in values
    candidates = {
        value.strip() for value in values if 8 <= len(value.strip()) <= 200 and " " not in value
    }
    assert candidates  # the dump is not empty: digests, usernames, slugs, password hashes
    usable = [v for v in candidates if signs_in_as_session(v) or signs_in_as_token(v)]
    assert usable == []


def test_it_keys_the_session_row_by_a_digest_of_the_cookie(superuser, client):
    cookie = admin_login(client)

    assert not Session.objects.filter(session_key=cookie).exists()
    assert Session.objects.filter(session_key=session_key_digest(cookie)).exists()


def test_it_ends_the_session_everywhere_on_logout(superuser, client):
    cookie = admin_login(client)
    elsewhere = Client()
    elsewhere.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert elsewhere.get("/admin/").status_code == 200

    response = client.post("/admin/logout/")

    assert response.status_code == 200
    assert not Session.objects.exists()
    assert elsewhere.get("/admin/").status_code == 302  # to the login page


def test_it_keeps_a_session_across_requests(superuser, client):
    admin_login(client)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/calendars/calendar/").status_code == 200
