"""Every way a contact comes in records it as the contact's origin (contact_created
workflows filter on it); a later upsert never changes it."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from contacts.models import Contact
from contacts.services import contact_upsert
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.workflows.support import make_workflow

pytestmark = pytest.mark.django_db


def test_it_records_the_api_as_origin():
    api = APIClient()
    api.force_authenticate(UserFactory())

    response = api.post("/api/contacts/", {"email": "api@example.com"}, format="json")

    assert response.status_code == 201
    assert response.json()["origin"] == "api"
    assert Contact.objects.get().origin == "api"


def test_it_records_the_admin_as_origin(client):
    client.force_login(UserFactory())

    response = client.post("/admin/contacts/contact/add/", {"email": "admin@example.com"})

    assert response.status_code == 302
    assert Contact.objects.get().origin == "admin"


def test_it_records_the_inbound_webhook_as_origin(client):
    owner = UserFactory()
    workflow = make_workflow(user=owner, trigger={"type": "inbound_webhook", "config": {}})

    response = client.post(
        f"/hooks/{workflow.webhook_token}/",
        {"email": "hook@example.com"},
        content_type="application/json",
    )

    assert response.status_code == 202
    assert Contact.objects.get().origin == "webhook"


def test_it_records_the_command_line_as_origin():
    calendar = CalendarFactory()

    call_command(
        "generate_one_time_link", calendar.slug, "--contact", "cli@example.com", stdout=StringIO()
    )

    assert Contact.objects.get().origin == "command"


def test_it_keeps_the_first_origin_on_a_later_upsert():
    owner = UserFactory()
    contact_upsert(owner=owner, email="ana@example.com", origin="booking")

    contact, created = contact_upsert(owner=owner, email="ANA@example.com", origin="webhook")

    assert created is False
    assert contact.origin == "booking"
