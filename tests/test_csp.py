"""The Content-Security-Policy every page carries (issue 13): no inline script, no eval,
unframeable except the embed; and markup in a calendar's name stays text in its snippets."""

import html

import pytest
from django.urls import reverse

from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in parts}


@pytest.fixture
def calendar():
    return CalendarFactory(name='Intro" onload="alert(1)', slug="intro")


@pytest.mark.parametrize(
    "path", ["/book/intro/", "/admin/login/", "/api/docs/", "/api/ping/", "/nowhere/"]
)
def test_it_allows_scripts_only_from_our_own_files(client, calendar, path):
    response = client.get(path)

    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_it_forbids_framing_a_booking_page(client, calendar):
    response = client.get("/book/intro/")

    assert directives(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_it_lets_the_embed_be_framed_anywhere(client, calendar):
    response = client.get(reverse("bookings:embed", kwargs={"slug": "intro"}))

    assert response.status_code == 200
    assert directives(response)["frame-ancestors"] == ["*"]
    assert "X-Frame-Options" not in response
    assert directives(response)["script-src"] == ["'self'"]


def test_it_escapes_the_calendar_name_in_the_share_panels_embed_code(client, calendar):
    client.force_login(calendar.owner)
    calendar.owner.is_staff = True
    calendar.owner.save()

    response = client.get(reverse("admin:calendar-share", kwargs={"calendar_id": calendar.pk}))

    assert response.status_code == 200
    page = response.content.decode()
    start = page.index('id="share-embed-code"')
    snippet = html.unescape(page[page.index(">", start) + 1 : page.index("</textarea>", start)])
    assert 'title="Book: Intro&quot; onload=&quot;alert(1)"' in snippet
    assert 'onload="alert' not in snippet


def test_it_escapes_the_calendar_name_in_the_apis_embed_code(client, calendar):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(f"/api/calendars/{calendar.pk}/")

    assert response.status_code == 200
    assert 'onload="alert' not in response.json()["links"]["embed"]
