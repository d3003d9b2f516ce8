"""The workflow builder in a real headless Chromium: a builder creates the link-and-email
workflow with the custom value picker, saves it and publishes it."""

import pytest

from tests.calendars.factories import CalendarFactory, UserFactory
from workflows.models import Workflow

pytestmark = pytest.mark.browser


@pytest.fixture
def builder(transactional_db):
    user = UserFactory(username="robin")
    CalendarFactory(owner=user, name="Intro call")
    CalendarFactory(name="Someone else's calendar")
    return user


def picker_options(tab, form: str, field: str) -> list[str]:
    return tab.eval_on_selector_all(
        f'#{form} select.value-picker[data-target="{form}-{field}"] option',
        "options => options.map(o => o.value).filter(Boolean)",
    )


def test_it_builds_and_publishes_the_link_and_email_workflow(
    live_server,
    builder,
    page,
    screenshot,
):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/workflows/workflow/add/")
    page.fill("#id_username", "robin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/workflows/workflow/add/")

    page.fill("#id_name", "Send a booking link")
    page.select_option("#id_trigger_type", "contact_created")
    assert page.locator(".field-trg_contact_tag_added__tag").is_hidden()

    # Step 1: Generate One-Time Booking Link, on one of the builder's own calendars.
    page.click("#actions-group .add-row a")
    page.select_option("#id_actions-0-type", "generate_one_time_link")
    calendar_select = page.locator("#id_actions-0-cfg_generate_one_time_link__calendar")
    assert calendar_select.is_visible()
    assert page.locator("#actions-0 .field-cfg_send_email__body").is_hidden()
    labels = calendar_select.locator("option").all_inner_texts()
    assert "Intro call" in labels and "Someone else's calendar" not in labels
    calendar_select.select_option(label="Intro call")

    # Step 2: Send Email, its body written with the picker.
    page.click("#actions-group .add-row a")
    page.select_option("#id_actions-1-type", "send_email")
    page.fill("#id_actions-1-cfg_send_email__subject", "Pick a time")
    offered = picker_options(page, "actions-1", "cfg_send_email__body")
    assert "{{ link.url }}" in offered and "{{ contact.first_name }}" in offered
    assert "{{ email.to }}" not in offered  # not its own outputs
    assert picker_options(page, "actions-0", "cfg_send_email__body") == [
        f"{{{{ contact.{name} }}}}"
        for name in ("first_name", "last_name", "full_name", "email", "phone")
    ]  # the first step sees only the contact
    body = page.locator("#id_actions-1-cfg_send_email__body")
    body_picker = page.locator(
        '#actions-1 select.value-picker[data-target="actions-1-cfg_send_email__body"]'
    )
    body.fill("Hi ")
    body_picker.select_option("{{ contact.first_name }}")
    page.keyboard.type(", book here: ")
    body_picker.select_option("{{ link.url }}")
    assert body.input_value() == "Hi {{ contact.first_name }}, book here: {{ link.url }}"
    screenshot(page, "workflow-builder")

    page.click("input[name=_continue]")
    page.wait_for_selector("#publish-button")
    workflow = Workflow.objects.get()
    assert workflow.status == Workflow.Status.DRAFT
    assert [a.as_spec() for a in workflow.actions.all()] == [
        {
            "key": "link",
            "type": "generate_one_time_link",
            "config": {"calendar": builder.calendars.get().pk},
        },
        {
            "key": "email",
            "type": "send_email",
            "config": {
                "subject": "Pick a time",
                "body": "Hi {{ contact.first_name }}, book here: {{ link.url }}",
            },
        },
    ]

    page.click("#publish-button")
    page.wait_for_selector("#unpublish-button")
    assert "is published" in page.locator(".messagelist").inner_text()
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.PUBLISHED
    assert workflow.created_by == builder


def test_it_builds_the_reminder_workflow_with_the_appointment_values(
    live_server, builder, page, screenshot
):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/workflows/workflow/add/")
    page.fill("#id_username", "robin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/workflows/workflow/add/")

    page.fill("#id_name", "Reminder")
    page.select_option("#id_trigger_type", "appointment_booked")

    # Step 1: Wait until 10 minutes before the appointment starts.
    page.click("#actions-group .add-row a")
    page.select_option("#id_actions-0-type", "wait")
    page.fill("#id_actions-0-cfg_wait__amount", "10")
    page.select_option("#id_actions-0-cfg_wait__unit", "minutes")
    page.select_option("#id_actions-0-cfg_wait__relative_to", "appointment_start")
    page.select_option("#id_actions-0-cfg_wait__direction", "before")

    # Step 2: the reminder, written with the picker.
    page.click("#actions-group .add-row a")
    page.select_option("#id_actions-1-type", "send_email")
    offered = picker_options(page, "actions-1", "cfg_send_email__body")
    assert "{{ appointment.start_time }}" in offered
    assert "{{ appointment.reschedule_url }}" in offered
    body = page.locator("#id_actions-1-cfg_send_email__body")
    body_picker = page.locator(
        '#actions-1 select.value-picker[data-target="actions-1-cfg_send_email__body"]'
    )
    body.fill("See you ")
    body_picker.select_option("{{ appointment.start_time }}")
    page.keyboard.type(". Move it: ")
    body_picker.select_option("{{ appointment.reschedule_url }}")
    subject_picker = page.locator(
        '#actions-1 select.value-picker[data-target="actions-1-cfg_send_email__subject"]'
    )
    page.fill("#id_actions-1-cfg_send_email__subject", "Reminder: ")
    subject_picker.select_option("{{ appointment.calendar_name }}")

    # Only an appointment trigger offers the appointment's values.
    page.select_option("#id_trigger_type", "manual")
    assert "{{ appointment.start_time }}" not in picker_options(
        page, "actions-1", "cfg_send_email__body"
    )
    page.select_option("#id_trigger_type", "appointment_booked")
    assert "{{ appointment.start_time }}" in picker_options(
        page, "actions-1", "cfg_send_email__body"
    )
    screenshot(page, "workflow-builder-reminder")

    page.click("input[name=_continue]")
    page.wait_for_selector("#publish-button")
    workflow = Workflow.objects.get()
    assert workflow.trigger_type == "appointment_booked"
    assert [a.as_spec() for a in workflow.actions.all()] == [
        {
            "key": "wait",
            "type": "wait",
            "config": {
                "amount": 10,
                "unit": "minutes",
                "relative_to": "appointment_start",
                "direction": "before",
            },
        },
        {
            "key": "email",
            "type": "send_email",
            "config": {
                "subject": "Reminder: {{ appointment.calendar_name }}",
                "body": "See you {{ appointment.start_time }}. Move it: "
                "{{ appointment.reschedule_url }}",
            },
        },
    ]
    page.click("#publish-button")
    page.wait_for_selector("#unpublish-button")
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.PUBLISHED
