"""Bad input the whole site shares (config/: the JSON parser, the NUL guard, the error
views): a 400 or 404 with a readable body, never a 500."""

import pytest
from rest_framework.test import APIClient

from contacts.models import Contact
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(UserFactory())
    return client


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_superuser=True))
    return client


def test_it_answers_400_to_json_nested_past_the_parser_limit(api):
    # json.load raises RecursionError, not ValueError: DRF's own parser let it out as a 500.
    body = "[" * 5000 + "]" * 5000
    response = api.post("/api/contacts/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested too deeply."}
    assert Contact.objects.count() == 0


def test_it_answers_400_to_deep_json_on_a_public_endpoint_too(client):
    calendar = CalendarFactory()
    response = client.post(
        f"/api/public/calendars/{calendar.slug}/bookings/",
        "[" * 5000,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert calendar.bookings.count() == 0


@pytest.mark.postgres
@pytest.mark.parametrize(
    "path",
    [
        "/c/%00/",
        "/api/public/calendars/%00/slots/?start=2030-01-07&end=2030-01-08",
        "/api/public/calendars/a%00b/bookings/",
    ],
)
def test_it_answers_404_to_a_nul_in_the_path(client, path):
    # PostgreSQL text cannot hold NUL: the lookup was a DataError (500).
    response = client.get(path)
    assert response.status_code == 404


def test_it_answers_a_nul_in_a_page_path_with_the_product_404(client):
    # The same page as any unknown address: a malformed token reads like an unknown one.
    response = client.get("/c/%00/")
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_it_answers_a_nul_in_a_page_query_with_the_product_400(client):
    calendar = CalendarFactory()
    response = client.get(f"/book/{calendar.slug}/?tz=%00")
    assert response.status_code == 400
    assert "could not be read" in response.text
    assert "Traceback" not in response.text


def test_it_answers_a_nul_in_an_api_url_with_json(api):
    response = api.get("/api/contacts/?search=%00")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    ["status__exact=%00", "source__exact=a%00b", "q=%00&status__exact=%00"],
)
def test_it_answers_400_to_a_nul_in_an_admin_list_filter(superuser_client, query):
    BookingFactory()
    response = superuser_client.get(f"/admin/bookings/booking/?{query}")
    assert response.status_code == 400


def test_it_still_serves_a_percent_sign_that_is_not_a_nul(api):
    # "%2500" decodes to the text "%00", which is fine.
    response = api.get("/api/contacts/?search=%2500")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/nothing/here/", "/api/bookings/null,null/"])
def test_it_answers_an_api_url_that_matches_nothing_with_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_it_still_answers_an_unknown_page_with_the_product_404(client):
    response = client.get("/nothing/here/")
    assert response.status_code == 404
    assert "Page not found" in response.text
