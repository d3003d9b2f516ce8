"""Staff workflows API in the issue's shape, ownership, enroll, enrollments; the inbound
webhook."""

import pytest
from rest_framework.test import APIClient

from contacts.models import Contact
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import make_workflow, run_queued
from workflows.models import Enrollment, Workflow, WorkflowAction

pytestmark = pytest.mark.django_db

URL = "/api/workflows/"


def issue_example(calendar_id: int) -> dict:
    return {
        "name": "Send a booking link",
        "status": "published",
        "trigger": {"type": "contact_created", "config": {}},
        "actions": [
            {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar_id}},
            {
                "key": "email",
                "type": "send_email",
                "config": {
                    "subject": "Pick a time",
                    "body": "Hi {{ contact.first_name }}, book here: {{ link.url }}",
                },
            },
        ],
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def api(owner):
    return client_for(owner)


def test_it_creates_the_workflow_of_the_issue(api, owner):
    calendar = CalendarFactory(owner=owner)
    payload = issue_example(calendar.pk)

    response = api.post(URL, payload, format="json")

    assert response.status_code == 201, response.json()
    workflow = Workflow.objects.get()
    body = response.json()
    assert {k: body[k] for k in payload} == payload
    assert body["id"] == workflow.pk and body["webhook_url"] is None
    assert (workflow.created_by, workflow.status) == (owner, "published")
    assert [(a.position, a.key, a.type) for a in workflow.actions.all()] == [
        (0, "link", "generate_one_time_link"),
        (1, "email", "send_email"),
    ]


def test_it_answers_the_same_shape_on_read(api, owner):
    calendar = CalendarFactory(owner=owner)
    created = api.post(URL, issue_example(calendar.pk), format="json").json()

    assert api.get(f"{URL}{created['id']}/").json() == created
    assert api.get(URL).json() == [created]


def test_it_refuses_a_value_that_is_not_available_yet(api, owner):
    payload = issue_example(CalendarFactory(owner=owner).pk)
    payload["actions"].reverse()

    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    errors = response.json()["actions"]
    assert (
        "“link”, which is not the contact or an earlier action" in (errors[0]["config"]["body"][0])
    )
    assert Workflow.objects.count() == 0


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda p: p.update(trigger={"type": "nope", "config": {}}), ("trigger", "type")),
        (lambda p: p["actions"][0].update(type="nope"), ("actions", 0, "type")),
        (lambda p: p["actions"][0]["config"].update(calendar=0), ("actions", 0, "config")),
        (lambda p: p["actions"][1].update(key="link"), ("actions", 1, "key")),
        (lambda p: p.update(status="live"), ("status",)),
        (lambda p: p.pop("trigger"), ("trigger",)),
        (lambda p: p.update(actions="link"), ("actions",)),
        (lambda p: p["actions"][1]["config"].pop("subject"), ("actions", 1, "config", "subject")),
    ],
)
def test_it_answers_bad_input_with_field_errors(api, owner, mutate, path):
    payload = issue_example(CalendarFactory(owner=owner).pk)
    mutate(payload)

    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    errors = response.json()
    for part in path:
        errors = errors[part]
    assert errors


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda p: p.update(trigger={"type": ["manual"], "config": {}}), ("trigger", "type")),
        (lambda p: p["actions"][0].update(type={"a": 1}), ("actions", 0, "type")),
        (lambda p: p["actions"][1].update(key=["email"]), ("actions", 1, "key")),
    ],
)
def test_it_answers_400_to_json_lists_and_objects_where_strings_belong(api, owner, mutate, path):
    payload = issue_example(CalendarFactory(owner=owner).pk)
    mutate(payload)

    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    errors = response.json()
    for part in path:
        errors = errors[part]
    assert errors
    assert not Workflow.objects.exists()


def test_it_refuses_a_calendar_of_another_user(api):
    response = api.post(URL, issue_example(CalendarFactory().pk), format="json")
    assert response.status_code == 400
    assert "calendar" in response.json()["actions"][0]["config"]


def test_it_replaces_the_actions_on_update(api, owner):
    created = api.post(URL, issue_example(CalendarFactory(owner=owner).pk), format="json").json()

    response = api.patch(
        f"{URL}{created['id']}/",
        {"actions": [{"type": "add_tag", "config": {"tag": "vip"}}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["actions"] == [
        {"key": "add_tag", "type": "add_tag", "config": {"tag": "vip"}}
    ]
    assert WorkflowAction.objects.count() == 1


def test_it_renames_without_touching_the_actions(api, owner):
    created = api.post(URL, issue_example(CalendarFactory(owner=owner).pk), format="json").json()
    response = api.patch(f"{URL}{created['id']}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["actions"] == created["actions"]
    assert Workflow.objects.get().name == "Renamed"


def test_it_refuses_to_publish_an_empty_workflow(api):
    created = api.post(
        URL,
        {"name": "Empty", "status": "draft", "trigger": {"type": "manual", "config": {}}},
        format="json",
    ).json()
    response = api.patch(f"{URL}{created['id']}/", {"status": "published"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"actions": ["A published workflow needs at least one action."]}


def test_it_deletes_a_workflow(api, owner):
    workflow = make_workflow(user=owner)
    assert api.delete(f"{URL}{workflow.pk}/").status_code == 204
    assert not Workflow.objects.exists()


def test_it_hides_other_users_workflows(api):
    other = make_workflow(user=UserFactory(), actions=[{"type": "add_tag", "config": {"tag": "x"}}])
    detail = f"{URL}{other.pk}/"

    assert api.get(URL).json() == []
    assert api.get(detail).status_code == 404
    assert api.patch(detail, {"name": "mine"}, format="json").status_code == 404
    assert api.delete(detail).status_code == 404
    contact = ContactFactory()
    assert api.post(f"{detail}enroll/", {"contact": contact.pk}).status_code == 404
    assert api.get(f"{detail}enrollments/").status_code == 404
    other.refresh_from_db()
    assert other.name != "mine" and Enrollment.objects.count() == 0


def test_it_shows_every_workflow_to_a_superuser():
    workflow = make_workflow(user=UserFactory())
    response = client_for(UserFactory(is_superuser=True)).get(f"{URL}{workflow.pk}/")
    assert response.status_code == 200


@pytest.mark.parametrize("user_kwargs", [None, {"is_staff": False}])
def test_it_is_for_staff_only(user_kwargs):
    client = APIClient()
    if user_kwargs is not None:
        client.force_authenticate(UserFactory(**user_kwargs))
    workflow = make_workflow(user=UserFactory())
    assert client.get(URL).status_code in (401, 403)
    assert client.post(f"{URL}{workflow.pk}/enroll/", {}).status_code in (401, 403)


# Enroll and enrollments


def test_it_enrolls_a_contact_in_a_manual_workflow(api, owner):
    workflow = make_workflow(user=owner, actions=[{"type": "add_tag", "config": {"tag": "x"}}])
    contact = ContactFactory(owner=owner)

    response = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": contact.pk}, format="json")

    assert response.status_code == 201
    enrollment = Enrollment.objects.get()
    assert (enrollment.contact, enrollment.trigger_type) == (contact, "manual")
    assert response.json()["id"] == enrollment.pk
    assert response.json()["steps"][0]["status"] == "queued"


def test_it_refuses_to_enroll_twice_while_active(api, owner):
    workflow = make_workflow(user=owner, actions=[{"type": "add_tag", "config": {"tag": "x"}}])
    contact = ContactFactory(owner=owner)
    api.post(f"{URL}{workflow.pk}/enroll/", {"contact": contact.pk}, format="json")

    response = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": contact.pk}, format="json")

    assert response.status_code == 409
    assert "already active" in response.json()["detail"]


@pytest.mark.parametrize(
    ("status", "trigger", "message"),
    [
        ("draft", "manual", "not published"),
        ("published", "contact_created", "manual trigger"),
    ],
)
def test_it_refuses_to_enroll_in_a_draft_or_automatic_workflow(
    api, owner, status, trigger, message
):
    workflow = make_workflow(
        user=owner,
        status=status,
        trigger={"type": trigger, "config": {}},
        actions=[{"type": "add_tag", "config": {"tag": "x"}}],
    )
    response = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": ContactFactory(owner=owner).pk})
    assert response.status_code == 409
    assert message in response.json()["detail"]


def test_it_answers_an_unknown_contact_with_a_field_error(api, owner):
    workflow = make_workflow(user=owner, actions=[{"type": "add_tag", "config": {"tag": "x"}}])
    response = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": 999999}, format="json")
    assert response.status_code == 400
    assert "contact" in response.json()


def test_it_lists_enrollments_with_their_step_results(
    api, owner, django_assert_max_num_queries, settings
):
    settings.WORKFLOW_WEBHOOK_ALLOW_PRIVATE = True  # port 9 of this machine: never answers
    workflow = make_workflow(
        user=owner,
        actions=[
            {"key": "tag", "type": "add_tag", "config": {"tag": "x"}},
            {"key": "hook", "type": "send_webhook", "config": {"url": "http://127.0.0.1:9/"}},
        ],
    )
    for _ in range(3):
        api.post(f"{URL}{workflow.pk}/enroll/", {"contact": ContactFactory(owner=owner).pk})
    run_queued()

    with django_assert_max_num_queries(8):
        response = api.get(f"{URL}{workflow.pk}/enrollments/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    steps = body["results"][0]["steps"]
    assert [(s["key"], s["status"]) for s in steps] == [("tag", "succeeded"), ("hook", "queued")]
    assert steps[0]["output"] == {"tag": "x", "changed": True}
    assert "could not be reached" in steps[1]["error"]


# Inbound webhook


@pytest.fixture
def hook_workflow(owner):
    return make_workflow(
        user=owner,
        trigger={"type": "inbound_webhook", "config": {}},
        actions=[{"type": "add_tag", "config": {"tag": "from-hook"}}],
    )


def hook_path(workflow) -> str:
    return f"/hooks/{workflow.webhook_token}/"


def test_it_shows_the_webhook_url_to_the_owner(api, hook_workflow):
    url = api.get(f"{URL}{hook_workflow.pk}/").json()["webhook_url"]
    assert url == "http://testserver" + hook_path(hook_workflow)


def test_it_upserts_and_enrolls_the_contact_of_an_inbound_webhook(client, hook_workflow):
    response = client.post(
        hook_path(hook_workflow),
        {"email": "Lead@Example.com", "first_name": "Lea", "source": "form"},
        content_type="application/json",
    )

    assert response.status_code == 202
    contact = Contact.objects.get()
    assert (contact.email, contact.first_name) == ("Lead@example.com", "Lea")
    assert contact.owner == hook_workflow.created_by
    assert response.json() == {"contact": contact.pk, "enrolled": True}
    enrollment = Enrollment.objects.get()
    assert enrollment.trigger_data == {
        "email": "Lead@Example.com",
        "first_name": "Lea",
        "source": "form",
    }


def test_it_uses_the_existing_contact_of_an_inbound_webhook(client, hook_workflow):
    existing = ContactFactory(
        owner=hook_workflow.created_by, email="lead@example.com", first_name="Known"
    )
    ContactFactory(email="lead@example.com", first_name="Another owner's")
    response = client.post(
        hook_path(hook_workflow),
        {"email": "LEAD@example.com", "first_name": "Other"},
        content_type="application/json",
    )
    assert response.json()["contact"] == existing.pk
    existing.refresh_from_db()
    assert existing.first_name == "Known"


def test_it_does_not_enroll_an_active_contact_again_by_webhook(client, hook_workflow):
    for _ in range(2):
        response = client.post(
            hook_path(hook_workflow), {"email": "a@example.com"}, content_type="application/json"
        )
    assert response.status_code == 202
    assert response.json()["enrolled"] is False
    assert Enrollment.objects.count() == 1


def test_it_answers_400_to_bad_json(client, hook_workflow):
    response = client.post(hook_path(hook_workflow), "{not json", content_type="application/json")
    assert response.status_code == 400
    assert Contact.objects.count() == 0


def test_it_answers_400_to_json_nested_past_the_parser_limit(client, hook_workflow):
    body = '{"email": "a@example.com", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post(hook_path(hook_workflow), body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("depth", [40, 300])
def test_it_answers_400_to_a_payload_too_deep_to_store(client, hook_workflow, depth):
    # Under gunicorn ~925 levels parsed, then overflowed the JSON encoder when saved as the
    # enrollment's trigger data (a 500); the cap keeps any payload far from that edge.
    body = '{"email": "a@example.com", "x": ' + "[" * depth + "]" * depth + "}"
    response = client.post(hook_path(hook_workflow), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"x": ["Nested more than 32 levels deep."]}
    assert Contact.objects.count() == 0
    assert Enrollment.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "a@example.com", "first_name": "Ada\x00"}, "first_name"),
        ({"email": "a@example.com", "tags": ["vip\x00"]}, "tags"),
        ({"email": "a@example.com", "extra": {"note\x00": 1}}, "extra"),
        ({"email": "a@example.com", "note\x00": 1}, "non_field_errors"),
    ],
)
def test_it_answers_400_to_a_nul_character_anywhere_in_the_payload(
    client, hook_workflow, payload, field
):
    # PostgreSQL stores NUL neither in text nor in jsonb: this was a DataError (500).
    response = client.post(hook_path(hook_workflow), payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {field: ["Null characters are not allowed."]}
    assert Contact.objects.count() == 0
    assert Enrollment.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": "nope"}, "email"),
        ({"email": 5}, "email"),
        ({"email": "a@example.com", "first_name": 3}, "first_name"),
        (["a@example.com"], "non_field_errors"),
    ],
)
def test_it_answers_400_without_a_usable_email(client, hook_workflow, payload, field):
    response = client.post(hook_path(hook_workflow), payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x"]
)
def test_it_answers_404_to_a_wrong_secret(client, hook_workflow, mangle):
    response = client.post(
        f"/hooks/{mangle(hook_workflow.webhook_token)}/",
        {"email": "a@example.com"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert Contact.objects.count() == 0


def test_it_answers_404_after_the_secret_is_rotated(client, hook_workflow):
    from workflows.services import workflow_webhook_rotate

    old = hook_path(hook_workflow)
    workflow_webhook_rotate(workflow=hook_workflow)
    response = client.post(old, {"email": "a@example.com"}, content_type="application/json")
    assert response.status_code == 404


def test_it_answers_404_for_a_workflow_with_another_trigger(client, owner):
    workflow = make_workflow(user=owner, actions=[{"type": "add_tag", "config": {"tag": "x"}}])
    response = client.post(
        hook_path(workflow), {"email": "a@example.com"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_it_refuses_a_webhook_for_a_draft_workflow(client, hook_workflow):
    hook_workflow.status = "draft"
    hook_workflow.save()
    response = client.post(
        hook_path(hook_workflow), {"email": "a@example.com"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert Contact.objects.count() == 0


def test_it_redacts_the_webhook_secret_in_logs(hook_workflow):
    from config.logging import redact

    assert hook_workflow.webhook_token not in redact(f"POST {hook_path(hook_workflow)} 202")


def test_it_documents_every_endpoint_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (
        "/api/workflows/",
        "/api/workflows/{id}/",
        "/api/workflows/{id}/enroll/",
        "/api/workflows/{id}/enrollments/",
        "/hooks/{token}/",
    ):
        assert f"{path}:" in schema or f'"{path}"' in schema, path


def test_it_generates_the_schema_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "ActionTypeEnum" in schema and "TriggerTypeEnum" in schema


# Ownership of contacts


def test_it_refuses_to_enroll_another_staff_users_contact_as_an_unknown_one(api, owner):
    workflow = make_workflow(user=owner)
    theirs = ContactFactory()

    response = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": theirs.pk}, format="json")
    unknown = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": 999999}, format="json")

    assert response.status_code == 400
    assert response.json()["contact"] == [
        unknown.json()["contact"][0].replace("999999", str(theirs.pk))
    ]
    assert Enrollment.objects.count() == 0


def test_it_refuses_a_superuser_enrolling_another_owners_contact_in_a_workflow():
    superuser = UserFactory(is_superuser=True)
    api = APIClient()
    api.force_authenticate(superuser)
    workflow = make_workflow(user=UserFactory())
    theirs = ContactFactory()

    response = api.post(f"{URL}{workflow.pk}/enroll/", {"contact": theirs.pk}, format="json")

    assert response.status_code == 400
    assert "contact" in response.json()
    assert Enrollment.objects.count() == 0


def test_it_refuses_a_webhook_for_a_workflow_whose_creator_is_gone(client, hook_workflow):
    Workflow.objects.filter(pk=hook_workflow.pk).update(created_by=None)

    response = client.post(
        hook_path(hook_workflow), {"email": "lead@example.com"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nobody would own the contact" in str(response.json())
    assert not Contact.objects.exists()
