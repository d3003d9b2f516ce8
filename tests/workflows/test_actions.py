"""Each action type on its own: what it does, what it outputs, how it fails."""

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bookings.models import OneTimeLink
from config import urlpolicy
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory
from tests.http_server import HttpServer, Reply
from tests.workflows.support import make_workflow, run_queued
from workflows.actions import send_webhook
from workflows.actions.generate_one_time_link import GenerateOneTimeLinkForm
from workflows.models import Enrollment, StepRun
from workflows.services import enrollment_create, enrollment_values_expanded

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def run_one(action, *, contact=None, user=None):
    """Enroll a contact in a one-action workflow and run it; the step and enrollment."""
    workflow = make_workflow(user=user or UserFactory(is_superuser=True), actions=[action])
    enrollment = enrollment_create(
        workflow=workflow, contact=contact or ContactFactory(), trigger_type="manual"
    )
    run_queued()
    enrollment.refresh_from_db()
    return enrollment.steps.get(), enrollment


@pytest.fixture
def receiver():
    with HttpServer() as server:
        yield server


@pytest.fixture(autouse=True)
def webhooks_may_reach_this_machine(settings):
    # The receivers here listen on 127.0.0.1, which a deployment refuses by default.
    settings.WORKFLOW_WEBHOOK_ALLOW_PRIVATE = True


# Generate One-Time Booking Link


def test_it_generates_a_link_for_the_contact_on_the_chosen_calendar():
    calendar = CalendarFactory(name="Intro call", timezone="Europe/Berlin")
    contact = ContactFactory(owner=calendar.owner)
    _step, enrollment = run_one(
        {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
        contact=contact,
    )

    link = OneTimeLink.objects.get()
    assert (link.calendar, link.contact, link.state) == (calendar, contact, "active")
    assert link.created_by_process == f"workflow {enrollment.workflow_id} · enrollment " + (
        f"{enrollment.pk} · step link"
    )
    assert enrollment.values["link"] == {
        "link_id": str(link.pk),
        "expires_at": "never",
        "calendar_name": "Intro call",
    }


def test_it_computes_the_link_url_from_the_stored_link_id():
    calendar = CalendarFactory()
    _step, enrollment = run_one(
        {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
        contact=ContactFactory(owner=calendar.owner),
    )

    link = OneTimeLink.objects.get()
    expanded = enrollment_values_expanded(enrollment)
    assert expanded["link"]["url"] == f"http://testserver/l/{link.token}/"
    assert link.token not in str(enrollment_values_expanded(enrollment, redact=True))


def test_it_sets_the_optional_expiry_and_shows_it_in_the_calendars_zone():
    calendar = CalendarFactory(timezone="Europe/Berlin")
    _step, enrollment = run_one(
        {
            "type": "generate_one_time_link",
            "config": {"calendar": calendar.pk, "expires_in_hours": 48},
        },
        contact=ContactFactory(owner=calendar.owner),
    )

    assert OneTimeLink.objects.get().expires_at == NOW + timedelta(hours=48)
    assert enrollment.values["link"]["expires_at"] == "2030-01-09 09:00 CET"


def test_it_fails_the_link_step_for_a_contact_of_another_owner_than_the_calendars():
    # A superuser's workflow may see both, but a link is only ever made for a contact of
    # the calendar's owner.
    calendar = CalendarFactory()
    step, _enrollment = run_one(
        {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar.pk}},
        contact=ContactFactory(),
    )

    assert step.status == "failed"
    assert "This contact belongs to another owner." in step.error
    assert not OneTimeLink.objects.exists()


def test_it_fails_the_link_step_when_the_calendar_is_inactive():
    calendar = CalendarFactory(name="Closed", is_active=False)
    step, _enrollment = run_one(
        {"type": "generate_one_time_link", "config": {"calendar": calendar.pk}}
    )
    assert (step.status, step.error) == ("failed", "The calendar “Closed” is inactive.")
    assert OneTimeLink.objects.count() == 0


# Send Email


def test_it_emails_the_contact_by_default(mailoutbox):
    contact = ContactFactory(email="ada@example.com")
    step, _ = run_one(
        {"type": "send_email", "config": {"subject": "Hello", "body": "Text"}}, contact=contact
    )
    assert step.status == "succeeded"
    assert [(m.to, m.subject, m.body) for m in mailoutbox] == [
        (["ada@example.com"], "Hello", "Text")
    ]


def test_it_emails_another_address_when_given(mailoutbox):
    run_one(
        {
            "type": "send_email",
            "config": {
                "to": "team@example.com",
                "subject": "New: {{ contact.email }}",
                "body": ".",
            },
        },
        contact=ContactFactory(email="ada@example.com"),
    )
    assert (mailoutbox[0].to, mailoutbox[0].subject) == (
        ["team@example.com"],
        "New: ada@example.com",
    )


def test_it_keeps_line_breaks_of_a_value_out_of_the_subject(mailoutbox):
    run_one(
        {"type": "send_email", "config": {"subject": "Hi {{ contact.first_name }}", "body": "."}},
        contact=ContactFactory(first_name="Ada\r\nBcc: evil@example.com"),
    )
    assert mailoutbox[0].subject == "Hi Ada Bcc: evil@example.com"


def test_it_fails_the_email_step_for_an_address_that_is_not_one(mailoutbox):
    step, _enrollment = run_one(
        {
            "type": "send_email",
            "config": {"to": "{{ contact.phone }}", "subject": "s", "body": "b"},
        },
        contact=ContactFactory(phone="+49 30 1234"),
    )
    assert (step.status, step.error) == ("failed", "“+49 30 1234” is not an email address.")
    assert mailoutbox == []


# Wait


@pytest.mark.parametrize(
    ("amount", "unit", "delta"),
    [
        (15, "minutes", timedelta(minutes=15)),
        (3, "hours", timedelta(hours=3)),
        (2, "days", timedelta(days=2)),
    ],
)
def test_it_waits_for_the_configured_time(amount, unit, delta):
    step, enrollment = run_one({"type": "wait", "config": {"amount": amount, "unit": unit}})
    assert (step.status, step.due_at) == (StepRun.Status.WAITING, NOW + delta)
    assert enrollment.status == Enrollment.Status.ACTIVE


# Tags


def test_it_adds_a_tag():
    contact = ContactFactory()
    step, _ = run_one({"type": "add_tag", "config": {"tag": "lead"}}, contact=contact)
    assert step.output == {"tag": "lead", "changed": True}
    assert list(contact.tags.values_list("name", flat=True)) == ["lead"]


def test_it_removes_a_tag():
    from contacts.services import contact_tag_add

    contact = ContactFactory()
    contact_tag_add(contact=contact, name="lead")
    step, _ = run_one({"type": "remove_tag", "config": {"tag": "LEAD"}}, contact=contact)
    assert step.output == {"tag": "LEAD", "changed": True}
    assert contact.tags.count() == 0


def test_it_succeeds_when_removing_a_tag_the_contact_does_not_have():
    step, _ = run_one({"type": "remove_tag", "config": {"tag": "none"}})
    assert (step.status, step.output["changed"]) == ("succeeded", False)


# Send webhook


def test_it_posts_the_contact_and_values_as_json(receiver):
    contact = ContactFactory(email="ada@example.com", first_name="Ada")
    step, enrollment = run_one(
        {"key": "hook", "type": "send_webhook", "config": {"url": receiver.url + "/in"}},
        contact=contact,
    )

    assert (step.status, step.output) == ("succeeded", {"status_code": 200})
    [request] = receiver.requests
    body = json.loads(request.body)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == f"steprun:{step.pk}"
    assert body["contact"]["email"] == "ada@example.com"
    assert body["enrollment"] == enrollment.pk
    assert enrollment.values["hook"] == {"status_code": "200"}


def test_it_retries_a_webhook_answering_503(receiver):
    receiver.answers["/in"] = Reply(503)
    step, enrollment = run_one({"type": "send_webhook", "config": {"url": receiver.url + "/in"}})
    assert (step.status, step.error) == ("queued", "The webhook answered 503.")
    assert enrollment.status == "active"


def test_it_fails_a_webhook_answering_404_for_good(receiver):
    receiver.answers["/in"] = Reply(404)
    step, enrollment = run_one({"type": "send_webhook", "config": {"url": receiver.url + "/in"}})
    assert (step.status, step.error, step.attempts) == ("failed", "The webhook answered 404.", 1)
    assert enrollment.status == "failed"


def test_it_refuses_a_redirect_to_another_host(receiver):
    elsewhere = f"http://localhost:{receiver.port}/elsewhere"
    receiver.answers["/in"] = Reply(307, {"Location": elsewhere})
    step, _ = run_one({"type": "send_webhook", "config": {"url": receiver.url + "/in"}})
    assert step.status == "failed"
    assert step.error == "The webhook redirected to another host (localhost)."
    assert [r.path for r in receiver.requests] == ["/in"]


def test_it_follows_a_307_on_the_same_host_with_the_same_post(receiver):
    receiver.answers["/in"] = Reply(307, {"Location": "/moved"})
    step, _ = run_one({"type": "send_webhook", "config": {"url": receiver.url + "/in"}})
    assert step.status == "succeeded"
    assert [r.path for r in receiver.requests] == ["/in", "/moved"]
    assert receiver.requests[0].body == receiver.requests[1].body


def test_it_retries_a_webhook_that_does_not_answer_in_time(monkeypatch):
    monkeypatch.setattr(send_webhook, "TIMEOUT_SECONDS", 0.2)
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        step, _ = run_one({"type": "send_webhook", "config": {"url": url}})
    assert step.status == "queued"
    assert step.error.startswith("The webhook could not be reached")


def test_it_retries_a_webhook_whose_host_refuses_connections():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    step, _ = run_one({"type": "send_webhook", "config": {"url": f"http://127.0.0.1:{port}/"}})
    assert step.status == "queued"
    assert "could not be reached" in step.error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_it_refuses_a_webhook_to_this_machine_by_default(receiver, settings, host):
    settings.WORKFLOW_WEBHOOK_ALLOW_PRIVATE = False
    url = f"http://{host}:{receiver.port}/in"

    step, enrollment = run_one({"type": "send_webhook", "config": {"url": url}})

    assert (step.status, step.attempts) == ("failed", 1)
    assert "not a public address" in step.error
    assert enrollment.status == "failed"
    assert receiver.requests == []


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not a bind)
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_it_lets_webhooks_reach_only_public_addresses(address, public):
    assert urlpolicy.is_public_address(address) is public


def test_it_makes_a_link_with_uses_a_relative_range_and_a_contact_lock():
    calendar = CalendarFactory(timezone="Pacific/Honolulu")  # still 6 January there
    contact = ContactFactory(owner=calendar.owner)

    run_one(
        {
            "type": "generate_one_time_link",
            "config": {
                "calendar": calendar.pk,
                "max_uses": 2,
                "bookable_within_days": 7,
                "lock_to_contact": True,
            },
        },
        contact=contact,
    )

    link = OneTimeLink.objects.get()
    assert (link.max_uses, link.lock_to_contact, link.contact) == (2, True, contact)
    assert (link.bookable_from.isoformat(), link.bookable_until.isoformat()) == (
        "2030-01-06",
        "2030-01-12",
    )
    assert link.source == OneTimeLink.Source.WORKFLOW
    assert link.label.startswith("Workflow: ")


def test_it_refuses_more_uses_than_a_link_takes_in_the_action_config():
    form = GenerateOneTimeLinkForm(data={"calendar": CalendarFactory().pk, "max_uses": 101})

    assert not form.is_valid()
    assert "max_uses" in form.errors
