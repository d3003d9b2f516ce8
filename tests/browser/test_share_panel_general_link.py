"""The Share panel after a workflow made a contact's link, in a real headless Chromium: Copy
gives a general link (no contact, no prefilled email), and Revoke asks first."""

from datetime import time

import pytest

from bookings.models import OneTimeLink
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.workflows.support import make_workflow, run_queued
from workflows import tasks as workflow_tasks
from workflows.services import enrollment_create

pytestmark = pytest.mark.browser


@pytest.fixture
def calendar(transactional_db):
    owner = UserFactory(
        username="robin",
        first_name="Robin",
        last_name="Okafor",
        email="robin@example.com",
        is_superuser=True,
    )
    return CalendarFactory(
        owner=owner,
        name="Intro call",
        slug="intro",
        timezone="UTC",
        hours=[(weekday, time(8), time(18)) for weekday in range(7)],
    )


@pytest.fixture
def workflow_link(calendar, monkeypatch):
    """A workflow ran for Ana and made her a personal link (steps run here, no broker)."""
    monkeypatch.setattr(workflow_tasks.run_step, "delay", lambda *args: None)
    monkeypatch.setattr(workflow_tasks.run_step, "apply_async", lambda *args, **kwargs: None)
    workflow = make_workflow(
        user=calendar.owner,
        name="Onboarding",
        actions=[
            {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}}
        ],
    )
    contact = ContactFactory(
        owner=calendar.owner, email="ana@example.com", first_name="Ana", last_name="Lima"
    )
    enrollment_create(workflow=workflow, contact=contact, trigger_type="manual")
    run_queued()
    return OneTimeLink.objects.get(calendar=calendar, contact=contact)


def log_in(page, live_server, calendar) -> None:
    page.goto(
        f"{live_server.url}/admin/login/?next=/admin/bookings/onetimelink/share/{calendar.pk}/"
    )
    page.fill("#id_username", "robin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"**/share/{calendar.pk}/")
    page.get_by_role("tab", name="One-Time Link").click()


def test_it_copies_a_general_link_after_a_workflow_made_a_contacts_link(
    live_server, calendar, workflow_link, new_page, settings
):
    settings.SITE_URL = live_server.url
    assert workflow_link.source == OneTimeLink.Source.WORKFLOW
    staff = new_page()
    staff.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(staff, live_server, calendar)

    # The workflow's link is listed, never offered as the one to copy.
    assert staff.locator("#share-no-active-link").is_visible()
    row = staff.locator(f"#share-link-{workflow_link.pk}")
    assert "Workflow: Onboarding" in row.inner_text()

    staff.get_by_role("button", name="Generate new link").click()
    staff.wait_for_selector("text=New one-time link generated.")
    staff.locator('[data-copy-target="share-one-time-url"]').click()
    staff.wait_for_selector('[data-copy-target="share-one-time-url"][data-copied="true"]')
    copied = staff.evaluate("navigator.clipboard.readText()")

    general = OneTimeLink.objects.exclude(pk=workflow_link.pk).get()
    assert (general.source, general.contact) == (OneTimeLink.Source.PANEL, None)
    assert copied == f"{live_server.url}/l/{general.token}/"
    assert workflow_link.token not in copied
    # A stranger given the copied link sees a blank form, not Ana's details.
    invitee = new_page(timezone_id="UTC")
    invitee.goto(copied)
    assert invitee.get_by_label("Email").input_value() == ""
    assert invitee.get_by_label("Name").input_value() == ""


def test_it_asks_before_revoking_the_current_link(live_server, calendar, new_page, settings):
    settings.SITE_URL = live_server.url
    current = OneTimeLink.objects.create(calendar=calendar, source=OneTimeLink.Source.PANEL)
    staff = new_page()
    log_in(staff, live_server, calendar)

    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    staff.once("dialog", dismiss)
    staff.locator("#share-revoke-current").click()
    assert dialogs and "Revoke the current link?" in dialogs[0]

    staff.once("dialog", lambda dialog: dialog.accept())
    staff.locator("#share-revoke-current").click()
    # "Revoked 1", not "no longer active": the dismissed confirm had posted nothing.
    staff.wait_for_selector("text=Revoked 1 one-time link.")
    current.refresh_from_db()
    assert current.state == OneTimeLink.State.REVOKED
