"""The admin workflow builder: typed settings, validation shared with the API, reorder,
publish, Test run, enrollment history, Retry, ownership."""

from datetime import UTC, datetime

import pytest

from contacts.models import Contact
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import link_and_email_actions, make_workflow, run_queued
from workflows.models import Enrollment, StepRun, Workflow

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/workflows/workflow/add/"


def change_url(workflow) -> str:
    return f"/admin/workflows/workflow/{workflow.pk}/change/"


@pytest.fixture
def builder(client):
    user = UserFactory()
    client.force_login(user)
    return user


def builder_post(
    *, name="Send a booking link", status="draft", trigger="manual", actions=(), initial=0, **extra
):
    data = {
        "name": name,
        "status": status,
        "trigger_type": trigger,
        "actions-TOTAL_FORMS": str(len(actions)),
        "actions-INITIAL_FORMS": str(initial),
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, action in enumerate(actions):
        for name_, value in action.items():
            data[f"actions-{index}-{name_}"] = value
    return data


def link_and_email_post(calendar, **kwargs):
    return builder_post(
        actions=[
            {
                "position": "0",
                "type": "generate_one_time_link",
                "cfg_generate_one_time_link__calendar": str(calendar.pk),
            },
            {
                "position": "1",
                "type": "send_email",
                "key": "email",
                "cfg_send_email__subject": "Pick a time",
                "cfg_send_email__body": "Hi {{ contact.first_name }}, book here: {{ link.url }}",
            },
        ],
        **kwargs,
    )


def test_it_shows_the_builder_with_its_configuration(client, builder):
    response = client.get(ADD_URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="workflow-builder-config"' in content
    assert "js/workflow_builder.js" in content
    assert "cfg_send_email__body" in content  # the empty inline form carries every type


def test_it_creates_the_link_and_email_workflow(client, builder):
    calendar = CalendarFactory(owner=builder)

    response = client.post(ADD_URL, link_and_email_post(calendar))

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    workflow = Workflow.objects.get()
    assert workflow.created_by == builder
    assert [a.as_spec() for a in workflow.actions.all()] == [
        {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
        {
            "key": "email",
            "type": "send_email",
            "config": {
                "subject": "Pick a time",
                "body": "Hi {{ contact.first_name }}, book here: {{ link.url }}",
            },
        },
    ]


def test_it_orders_actions_by_position(client, builder):
    calendar = CalendarFactory(owner=builder)
    data = link_and_email_post(calendar)
    data["actions-0-position"], data["actions-1-position"] = "1", "0"

    response = client.post(ADD_URL, data)

    assert response.status_code == 200  # the email now comes before the link it uses
    errors = response.context["inline_admin_formsets"][0].formset.forms[1].errors
    assert "which is not the contact or an earlier action" in errors["cfg_send_email__body"][0]
    assert Workflow.objects.count() == 0


def test_it_refuses_a_value_that_does_not_exist(client, builder):
    calendar = CalendarFactory(owner=builder)
    data = link_and_email_post(calendar)
    data["actions-1-cfg_send_email__body"] = "{{ link.token }}"

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[1].errors
    assert "has no value “token”" in errors["cfg_send_email__body"][0]


def test_it_requires_the_settings_of_the_chosen_type_only(client, builder):
    data = builder_post(
        actions=[{"position": "0", "type": "send_email", "cfg_add_tag__tag": "ignored"}]
    )
    response = client.post(ADD_URL, data)
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert set(errors) == {"cfg_send_email__subject", "cfg_send_email__body"}


def test_it_offers_only_the_builders_calendars(client, builder):
    mine, theirs = CalendarFactory(owner=builder), CalendarFactory()
    response = client.get(ADD_URL)
    field = response.context["inline_admin_formsets"][0].formset.empty_form.fields[
        "cfg_generate_one_time_link__calendar"
    ]
    assert list(field.queryset) == [mine]

    response = client.post(ADD_URL, link_and_email_post(theirs))
    assert response.status_code == 200
    assert Workflow.objects.count() == 0
    assert theirs.name not in response.content.decode()


def test_it_validates_the_trigger_settings(client, builder):
    data = builder_post(
        trigger="contact_tag_added",
        actions=[{"position": "0", "type": "add_tag", "cfg_add_tag__tag": "x"}],
    )
    response = client.post(ADD_URL, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["trg_contact_tag_added__tag"]

    data["trg_contact_tag_added__tag"] = "vip"
    assert client.post(ADD_URL, data).status_code == 302
    assert Workflow.objects.get().trigger_config == {"tag": "vip"}


def test_it_refuses_to_save_a_published_workflow_without_actions(client, builder):
    response = client.post(ADD_URL, builder_post(status="published"))
    assert response.status_code == 200
    assert "needs at least one action" in response.content.decode()


def test_it_shows_saved_settings_when_editing(client, builder):
    calendar = CalendarFactory(owner=builder)
    workflow = make_workflow(user=builder, actions=link_and_email_actions(calendar.pk))
    response = client.get(change_url(workflow))
    forms = response.context["inline_admin_formsets"][0].formset.forms
    assert forms[0].initial["cfg_generate_one_time_link__calendar"] == calendar.pk
    assert forms[1].initial["cfg_send_email__subject"] == "Pick a time"


def test_it_reorders_saved_actions(client, builder):
    workflow = make_workflow(
        user=builder,
        status="draft",
        actions=[
            {"key": "first", "type": "add_tag", "config": {"tag": "a"}},
            {"key": "second", "type": "remove_tag", "config": {"tag": "b"}},
        ],
    )
    first, second = workflow.actions.all()
    data = builder_post(
        initial=2,
        actions=[
            {
                "id": str(first.pk),
                "workflow": str(workflow.pk),
                "position": "1",
                "type": "add_tag",
                "key": "first",
                "cfg_add_tag__tag": "a",
            },
            {
                "id": str(second.pk),
                "workflow": str(workflow.pk),
                "position": "0",
                "type": "remove_tag",
                "key": "second",
                "cfg_remove_tag__tag": "b",
            },
        ],
    )

    response = client.post(change_url(workflow), data)

    assert response.status_code == 302
    assert [a.key for a in workflow.actions.order_by("position")] == ["second", "first"]


def test_it_publishes_and_unpublishes(client, builder):
    workflow = make_workflow(user=builder, status="draft")

    response = client.post(f"/admin/workflows/workflow/{workflow.pk}/publish/")
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.status == "published"

    client.post(f"/admin/workflows/workflow/{workflow.pk}/unpublish/")
    workflow.refresh_from_db()
    assert workflow.status == "draft"


def test_it_refuses_to_publish_an_invalid_workflow_with_a_message(client, builder):
    workflow = make_workflow(user=builder, status="draft", actions=[])
    response = client.post(f"/admin/workflows/workflow/{workflow.pk}/publish/", follow=True)
    workflow.refresh_from_db()
    assert workflow.status == "draft"
    assert "needs at least one action" in response.content.decode()


def test_it_starts_a_test_run_for_a_chosen_contact_even_on_a_draft(client, builder):
    workflow = make_workflow(user=builder, status="draft")
    contact = ContactFactory(owner=builder, email="ada@example.com")

    response = client.post(
        f"/admin/workflows/workflow/{workflow.pk}/test-run/", {"email": "ADA@example.com"}
    )

    assert response.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.contact, enrollment.is_test) == (contact, True)


def test_it_explains_a_test_run_for_an_unknown_contact(client, builder):
    workflow = make_workflow(user=builder)
    response = client.post(
        f"/admin/workflows/workflow/{workflow.pk}/test-run/", {"email": "nobody@example.com"}
    )
    assert response.status_code == 200
    assert "No contact has this email." in response.content.decode()
    assert Enrollment.objects.count() == 0


def test_it_does_not_test_run_with_another_staff_users_contact(client, builder):
    workflow = make_workflow(user=builder)
    ContactFactory(email="ana@example.com")  # someone else's

    response = client.post(
        f"/admin/workflows/workflow/{workflow.pk}/test-run/", {"email": "ana@example.com"}
    )

    assert response.status_code == 200
    assert "No contact has this email." in response.content.decode()
    assert Enrollment.objects.count() == 0


def test_it_shows_each_steps_status_output_and_error_and_retries(client, builder):
    workflow = make_workflow(
        user=builder,
        actions=[
            {"key": "tag", "type": "add_tag", "config": {"tag": "seen"}},
            {"key": "hook", "type": "send_webhook", "config": {"url": "http://127.0.0.1:9/"}},
        ],
    )
    client.post(
        f"/admin/workflows/workflow/{workflow.pk}/test-run/",
        {"email": ContactFactory(owner=builder).email},
    )
    run_queued()
    step = StepRun.objects.get(key="hook")
    StepRun.objects.filter(pk=step.pk).update(status="failed", error="The webhook answered 500.")

    content = client.get(change_url(workflow)).content.decode()
    assert "tag: seen" in content and "succeeded" in content
    assert "The webhook answered 500." in content

    response = client.post(f"/admin/workflows/workflow/{workflow.pk}/steps/{step.pk}/retry/")
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.status == "queued"
    assert step.enrollment.status == "active"


def test_it_hides_other_builders_workflows(client, builder):
    other = make_workflow(user=UserFactory())
    assert client.get(change_url(other)).status_code in (302, 404)
    assert client.post(f"/admin/workflows/workflow/{other.pk}/publish/").status_code == 404
    assert (
        client.post(
            f"/admin/workflows/workflow/{other.pk}/test-run/", {"email": ContactFactory().email}
        ).status_code
        == 404
    )
    assert other.name not in client.get("/admin/workflows/workflow/").content.decode()
    assert Enrollment.objects.count() == 0


def test_it_shows_the_webhook_url_of_an_inbound_webhook_workflow(client, builder):
    workflow = make_workflow(user=builder, trigger={"type": "inbound_webhook", "config": {}})
    content = client.get(change_url(workflow)).content.decode()
    assert f"/hooks/{workflow.webhook_token}/" in content


def test_it_lists_enrollments_for_their_owner_only(client, builder):
    mine = make_workflow(user=builder)
    theirs = make_workflow(user=UserFactory(), name="Secret flow")
    for workflow in (mine, theirs):
        Enrollment.objects.create(
            workflow=workflow,
            contact=ContactFactory(owner=workflow.created_by),
            trigger_type="manual",
            actions=[],
        )
    content = client.get("/admin/workflows/enrollment/").content.decode()
    assert "Secret flow" not in content
    assert Contact.objects.count() == 2


def test_it_swaps_the_keys_of_two_actions(client, builder):
    workflow = make_workflow(
        user=builder,
        status="draft",
        actions=[
            {"key": "first", "type": "add_tag", "config": {"tag": "a"}},
            {"key": "second", "type": "add_tag", "config": {"tag": "b"}},
        ],
    )
    first, second = workflow.actions.all()
    data = builder_post(
        initial=2,
        actions=[
            {"id": str(first.pk), "workflow": str(workflow.pk), "position": "0",
             "type": "add_tag", "key": "second", "cfg_add_tag__tag": "a"},
            {"id": str(second.pk), "workflow": str(workflow.pk), "position": "1",
             "type": "add_tag", "key": "first", "cfg_add_tag__tag": "b"},
        ],
    )  # fmt: skip

    response = client.post(change_url(workflow), data)

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.key, second.key) == ("second", "first")


def test_it_shows_a_running_steps_lease(client, builder):
    workflow = make_workflow(user=builder)
    client.post(
        f"/admin/workflows/workflow/{workflow.pk}/test-run/",
        {"email": ContactFactory(owner=builder).email},
    )
    lease_until = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    StepRun.objects.update(status="running", lease_until=lease_until)

    history = client.get(change_url(workflow)).content.decode()
    enrollment = client.get(
        f"/admin/workflows/enrollment/{Enrollment.objects.get().pk}/change/"
    ).content.decode()

    assert "leased until 2031-05-06 07:08:09" in history
    assert "Lease until" in enrollment
