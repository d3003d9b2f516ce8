"""The site's root and icon: a small page instead of a 404, the admin's "View site" to it."""

import pytest

from tests.calendars.factories import CalendarFactory, UserFactory


@pytest.mark.django_db
def test_it_shows_a_small_home_page_at_the_root(client):
    calendar = CalendarFactory(name="Secret strategy session")

    response = client.get("/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Onceslot" in body
    assert 'href="/admin/"' in body
    assert calendar.name not in body and calendar.slug not in body


@pytest.mark.django_db
def test_it_links_the_admins_view_site_to_the_home_page(client):
    client.force_login(UserFactory(is_superuser=True))

    response = client.get("/admin/")

    assert response.status_code == 200
    assert '<a href="/">View site</a>' in response.content.decode()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_it_serves_a_favicon(client):
    response = client.get("/favicon.ico", follow=True)

    assert response.status_code == 200
    assert b"<svg" in b"".join(response.streaming_content)
    assert 'rel="icon"' in client.get("/").content.decode()
