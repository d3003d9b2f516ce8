import pytest


@pytest.mark.django_db
def test_it_serves_a_schema_with_the_calendar_and_slots_paths(client):
    response = client.get("/api/schema/", {"format": "json"})
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
