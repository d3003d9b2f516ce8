"""The one validation shared by the API and the admin builder."""

import pytest

from tests.calendars.factories import CalendarFactory, UserFactory
from workflows.validation import WorkflowInvalid, default_key, validate_workflow

pytestmark = pytest.mark.django_db

MANUAL = {"type": "manual", "config": {}}


def errors_of(**kwargs):
    kwargs.setdefault("status", "published")
    kwargs.setdefault("trigger", MANUAL)
    with pytest.raises(WorkflowInvalid) as excinfo:
        validate_workflow(**kwargs)
    return excinfo.value.errors


def test_it_accepts_the_link_and_email_workflow_of_the_issue():
    user = UserFactory()
    calendar = CalendarFactory(owner=user)
    clean = validate_workflow(
        status="published",
        trigger={"type": "contact_created", "config": {}},
        actions=[
            {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
            {
                "key": "email",
                "type": "send_email",
                "config": {
                    "subject": "Pick a time",
                    "body": "Hi {{ contact.first_name }}, book here: {{ link.url }}",
                },
            },
        ],
        user=user,
    )
    assert [(a.key, a.type) for a in clean.actions] == [
        ("link", "generate_one_time_link"),
        ("email", "send_email"),
    ]
    assert clean.actions[0].config == {"calendar": calendar.pk}


def test_it_refuses_a_value_of_a_later_action():
    user = UserFactory()
    calendar = CalendarFactory(owner=user)
    errors = errors_of(
        actions=[
            {
                "key": "email",
                "type": "send_email",
                "config": {"subject": "x", "body": "{{ link.url }}"},
            },
            {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
        ],
        user=user,
    )
    assert "not the contact or an earlier action" in errors["actions"][0]["config"]["body"][0]
    assert errors["actions"][1] == {}


def test_it_refuses_an_unknown_output_of_an_earlier_action():
    user = UserFactory()
    calendar = CalendarFactory(owner=user)
    errors = errors_of(
        actions=[
            {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
            {"type": "send_email", "config": {"subject": "{{ link.token }}", "body": "b"}},
        ],
        user=user,
    )
    assert "has no value “token”" in errors["actions"][1]["config"]["subject"][0]


def test_it_refuses_an_unknown_contact_field():
    errors = errors_of(
        actions=[{"type": "send_email", "config": {"subject": "s", "body": "{{ contact.age }}"}}],
        user=UserFactory(),
    )
    assert (
        "available: email, first_name, full_name, last_name, phone"
        in (errors["actions"][0]["config"]["body"][0])
    )


def test_it_refuses_a_calendar_the_user_may_not_use():
    errors = errors_of(
        actions=[{"type": "generate_one_time_link", "config": {"calendar": CalendarFactory().pk}}],
        user=UserFactory(),
    )
    assert "calendar" in errors["actions"][0]["config"]


def test_it_lets_a_superuser_use_any_calendar():
    clean = validate_workflow(
        status="draft",
        trigger=MANUAL,
        actions=[{"type": "generate_one_time_link", "config": {"calendar": CalendarFactory().pk}}],
        user=UserFactory(is_superuser=True),
    )
    assert clean.actions[0].key == "link"


def test_it_refuses_duplicate_keys():
    errors = errors_of(
        actions=[
            {"key": "tag", "type": "add_tag", "config": {"tag": "a"}},
            {"key": "tag", "type": "remove_tag", "config": {"tag": "b"}},
        ],
        user=UserFactory(),
    )
    assert errors["actions"][1]["key"] == ["Another action already uses the key “tag”."]


@pytest.mark.parametrize("key", ["Link", "1link", "link-url", "contact", "a" * 41, "with space"])
def test_it_refuses_malformed_or_reserved_keys(key):
    errors = errors_of(
        actions=[{"key": key, "type": "add_tag", "config": {"tag": "a"}}], user=UserFactory()
    )
    assert "key" in errors["actions"][0]


def test_it_gives_readable_default_keys_avoiding_explicit_ones():
    clean = validate_workflow(
        status="draft",
        trigger=MANUAL,
        actions=[
            {"type": "add_tag", "config": {"tag": "a"}},
            {"type": "add_tag", "config": {"tag": "b"}},
            {"key": "add_tag_3", "type": "wait", "config": {"amount": 1, "unit": "days"}},
            {"type": "add_tag", "config": {"tag": "c"}},
        ],
        user=UserFactory(),
    )
    assert [a.key for a in clean.actions] == ["add_tag", "add_tag_2", "add_tag_3", "add_tag_4"]


def test_it_names_default_keys_after_the_type():
    assert default_key("generate_one_time_link", set()) == "link"
    assert default_key("send_email", {"email"}) == "email_2"


def test_it_refuses_unknown_settings():
    errors = errors_of(
        actions=[{"type": "add_tag", "config": {"tag": "a", "colour": "red"}}], user=UserFactory()
    )
    assert errors["actions"][0]["config"] == {"colour": ["Unknown setting."]}


def test_it_refuses_an_unknown_action_type():
    errors = errors_of(actions=[{"type": "launch_rocket", "config": {}}], user=UserFactory())
    assert "type" in errors["actions"][0]


def test_it_refuses_an_unknown_trigger_type():
    errors = errors_of(trigger={"type": "birthday", "config": {}}, actions=[], user=UserFactory())
    assert "type" in errors["trigger"]


def test_it_requires_the_tag_of_a_tag_trigger():
    errors = errors_of(
        trigger={"type": "contact_tag_added", "config": {}},
        actions=[{"type": "add_tag", "config": {"tag": "a"}}],
        user=UserFactory(),
    )
    assert errors["trigger"]["config"]["tag"] == ["This field is required."]


def test_it_refuses_publishing_without_actions():
    errors = errors_of(actions=[], user=UserFactory())
    assert errors["actions"] == ["A published workflow needs at least one action."]


def test_it_allows_a_draft_without_actions():
    clean = validate_workflow(status="draft", trigger=MANUAL, actions=[], user=UserFactory())
    assert clean.actions == []


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"amount": 0, "unit": "days"}, "amount"),
        ({"amount": 2, "unit": "weeks"}, "unit"),
        ({"amount": 400, "unit": "days"}, "non_field_errors"),
    ],
)
def test_it_validates_wait_settings(config, field):
    errors = errors_of(actions=[{"type": "wait", "config": config}], user=UserFactory())
    assert field in errors["actions"][0]["config"]


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "not a url"])
def test_it_accepts_only_http_webhook_urls(url):
    errors = errors_of(
        actions=[{"type": "send_webhook", "config": {"url": url}}], user=UserFactory()
    )
    assert "url" in errors["actions"][0]["config"]


def test_it_refuses_a_malformed_placeholder_in_an_email():
    errors = errors_of(
        actions=[
            {"type": "send_email", "config": {"subject": "s", "body": "{{ contact.email|upper }}"}}
        ],
        user=UserFactory(),
    )
    assert "is not a custom value" in errors["actions"][0]["config"]["body"][0]


def test_it_refuses_settings_that_are_not_an_object():
    errors = errors_of(actions=[{"type": "add_tag", "config": ["vip"]}], user=UserFactory())
    assert errors["actions"][0]["config"] == {
        "non_field_errors": ["Expected an object of settings."]
    }
