import re

import pytest

from tests.calendars.factories import UserFactory


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.mark.django_db
def test_it_serves_a_schema_with_the_calendar_and_slots_paths(staff_client):
    response = staff_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/calendars/"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/calendars/{id}/"])
    slots = paths["/api/public/calendars/{slug}/slots/"]["get"]
    assert {p["name"] for p in slots["parameters"]} == {"slug", "start", "end", "timezone"}
    assert {"200", "400", "404"} <= set(slots["responses"])


@pytest.mark.django_db
def test_it_serves_the_browsable_api_docs(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_it_shows_only_public_operations_without_a_staff_login(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/public/calendars/{slug}/slots/" in paths
    # The invitee API and the workflows' inbound webhook: nothing of the staff API.
    assert all(path.startswith(("/api/public/", "/hooks/")) for path in paths), sorted(paths)


@pytest.mark.django_db
def test_it_shows_only_public_operations_to_a_non_staff_user(client):
    client.force_login(UserFactory(is_staff=False))
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert "/api/calendars/" not in paths


@pytest.fixture
def schema(staff_client):
    return staff_client.get("/api/schema/", {"format": "json"}).json()


@pytest.mark.django_db
def test_it_documents_the_error_answers_of_staff_operations(schema):
    # DRF answers these for bad input, missing credentials and missing objects; a client (or
    # a schema-driven fuzzer) saw them as undocumented status codes.
    update = schema["paths"]["/api/contacts/{id}/"]["put"]["responses"]
    assert {"200", "400", "401", "403", "404"} <= set(update)
    assert update["404"]["content"]["application/json"]["schema"]["required"] == ["detail"]
    listing = schema["paths"]["/api/bookings/"]["get"]["responses"]
    assert {"200", "400", "401", "403", "404"} <= set(listing)  # bad filter, bad page


@pytest.mark.django_db
def test_it_documents_no_auth_errors_for_public_operations(schema):
    responses = schema["paths"]["/api/public/calendars/{slug}/bookings/"]["post"]["responses"]
    assert not {"401", "403"} & set(responses)
    assert "429" in responses


@pytest.mark.django_db
def test_it_keeps_the_responses_a_view_declares_itself(schema):
    slots = schema["paths"]["/api/public/calendars/{slug}/slots/"]["get"]["responses"]
    assert slots["400"]["description"] == "A message per bad field: start, end, timezone."


@pytest.mark.django_db
def test_it_documents_the_conflict_of_deleting_a_calendar_in_use(schema):
    responses = schema["paths"]["/api/calendars/{id}/"]["delete"]["responses"]
    assert {"204", "404", "409"} <= set(responses)


@pytest.mark.django_db
def test_it_documents_hours_as_the_hh_mm_the_api_answers(schema):
    # "format: time" is RFC 3339's HH:MM:SS: every answer's "09:00" violated the schema.
    for component in ("WeeklyHour", "Interval"):
        start = schema["components"]["schemas"][component]["properties"]["start"]
        assert "format" not in start
        assert re.fullmatch(start["pattern"], "09:00")
        assert re.fullmatch(start["pattern"], "17:30:00")
        assert not re.fullmatch(start["pattern"], "24:00")
