"""Asking for a new one-time link: the spent-link page's form and the public API."""

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from bookings import signals, tasks
from bookings.models import OneTimeLink, OutboxMessage
from bookings.services.link_renewals import RENEWAL_ANSWER, RENEWAL_CLIENT_LIMIT
from bookings.services.outbox import outbox_deliver
from contacts.models import Contact
from tests.bookings.factories import OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.celery_worker import wait_until
from tests.contacts.factories import ContactFactory

NOW = "2030-01-07 08:00:00+00:00"


@pytest.fixture(autouse=True)
def fresh_limits():
    # The limits live in Django's cache: every test starts with none counted.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def delivered(monkeypatch):
    """Outbox deliveries the commit asked for, recorded instead of sent to the broker."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.deliver_outbox_message, "delay", ids.append)
    return ids


@pytest.fixture
def requested():
    """The one_time_link_renewal_requested signals sent: [kwargs]."""
    sent: list[dict] = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    signals.one_time_link_renewal_requested.connect(receiver, weak=False)
    yield sent
    signals.one_time_link_renewal_requested.disconnect(receiver)


def used_link(**extra) -> OneTimeLink:
    owner = UserFactory(email="owner@example.com", first_name="Alex", last_name="Owner")
    calendar = CalendarFactory(owner=owner, name="Roof consult")
    link = OneTimeLinkFactory(calendar=calendar, **extra)
    OneTimeLink.objects.filter(pk=link.pk).update(uses=1, used_at=link.created_at)
    link.refresh_from_db()
    return link


def ask(link, email="visitor@example.com", message="", client=None):
    url = f"/api/public/links/{link.token}/renewal-request/"
    return (client or APIClient()).post(url, {"email": email, "message": message}, format="json")


@pytest.mark.django_db
def test_it_accepts_a_request_for_a_spent_link_and_tells_the_owner(
    delivered, requested, django_capture_on_commit_callbacks
):
    link = used_link()

    with django_capture_on_commit_callbacks(execute=True):
        response = ask(link, message="Could we meet next week?")

    assert response.status_code == 202
    assert response.json() == {"detail": RENEWAL_ANSWER}
    [message] = OutboxMessage.objects.all()
    assert message.to == "owner@example.com"
    assert "visitor@example.com" in message.body_text
    assert "Roof consult" in message.body_text
    assert "Could we meet next week?" in message.body_text
    share = reverse("admin:calendar-share", kwargs={"calendar_id": link.calendar_id})
    assert share in message.body_text
    assert delivered == [message.pk]
    contact = Contact.objects.get(email="visitor@example.com")
    assert requested == [
        {
            "signal": signals.one_time_link_renewal_requested,
            "link_id": link.pk,
            "calendar_id": link.calendar_id,
            "contact_id": contact.pk,
        }
    ]


@pytest.mark.django_db
def test_it_answers_a_repeat_as_the_first_and_tells_the_owner_once(
    delivered, requested, django_capture_on_commit_callbacks
):
    link = used_link()

    with django_capture_on_commit_callbacks(execute=True):
        first = ask(link)
        again = ask(link, email="VISITOR@example.com")

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    assert OutboxMessage.objects.count() == 1
    assert len(delivered) == 1
    assert len(requested) == 1


@pytest.mark.django_db
def test_it_takes_another_request_an_hour_later(
    delivered, requested, django_capture_on_commit_callbacks
):
    link = used_link()
    with time_machine.travel(NOW, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            ask(link)
        cache.clear()  # the cache's own expiry, an hour on (locmem reads the real clock)
        traveller.shift(3601)
        with django_capture_on_commit_callbacks(execute=True):
            response = ask(link)

    assert response.status_code == 202
    assert OutboxMessage.objects.count() == 2
    assert len(requested) == 2


@pytest.mark.django_db
def test_it_limits_requests_per_client(delivered):
    links = [used_link() for _ in range(RENEWAL_CLIENT_LIMIT + 1)]
    answers = [ask(link).status_code for link in links]

    assert answers == [202] * RENEWAL_CLIENT_LIMIT + [429]
    assert OutboxMessage.objects.count() == RENEWAL_CLIENT_LIMIT


@pytest.mark.django_db
def test_it_never_mails_the_address_the_visitor_typed(delivered):
    link = used_link()

    ask(link, email="victim@example.com", message="Buy cheap pills")

    assert not OutboxMessage.objects.filter(to="victim@example.com").exists()
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == ["owner@example.com"]


@pytest.mark.django_db
def test_it_refuses_a_request_for_an_active_link(delivered, requested):
    link = OneTimeLinkFactory()

    response = ask(link)

    assert response.status_code == 409
    assert not OutboxMessage.objects.exists()
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_it_answers_404_for_an_unknown_link(delivered):
    link = OneTimeLinkFactory.build(locator="A" * 12, nonce="0" * 32)

    response = ask(link)

    assert response.status_code == 404
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_bad_email_with_a_field_error(delivered):
    link = used_link()

    response = ask(link, email="not-an-email")

    assert response.status_code == 400
    assert "email" in response.json()
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "title"),
    [
        ({"used": True}, "This link has been used"),
        ({"revoked": True}, "This link was withdrawn"),
        ({"expired": True}, "This link has expired"),
        ({"inactive": True}, "This calendar is not taking bookings"),
    ],
)
def test_it_says_why_the_link_is_spent(setup, title):
    link = used_link() if setup.get("used") else OneTimeLinkFactory()
    if setup.get("revoked"):
        OneTimeLink.objects.filter(pk=link.pk).update(revoked_at=link.created_at)
    if setup.get("expired"):
        OneTimeLink.objects.filter(pk=link.pk).update(expires_at=link.created_at)
    if setup.get("inactive"):
        type(link.calendar).objects.filter(pk=link.calendar_id).update(is_active=False)

    response = Client().get(reverse("bookings:one-time-link", kwargs={"token": link.token}))

    assert response.status_code == 410
    html = response.content.decode()
    assert title in html
    assert "Ask for a new link" in html
    assert "for a new link" in html  # "contact the owner" stays


@pytest.mark.django_db
def test_it_prefills_the_contacts_email_in_the_request_form():
    link = used_link(contact=ContactFactory(email="ana@example.com"))

    response = Client().get(reverse("bookings:one-time-link", kwargs={"token": link.token}))

    assert 'id="id_renew_email" value="ana@example.com"' in response.content.decode()


@pytest.mark.django_db
def test_it_takes_a_request_from_the_spent_links_page(
    delivered, requested, django_capture_on_commit_callbacks
):
    link = used_link()
    page = reverse("bookings:one-time-link", kwargs={"token": link.token})

    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            page, {"action": "renew", "email": "visitor@example.com", "message": "Hi"}
        )

    assert response.status_code == 303
    assert response["Location"] == f"{page}?requested=1"
    assert OutboxMessage.objects.get().to == "owner@example.com"
    assert len(requested) == 1
    followed = Client().get(response["Location"])
    assert RENEWAL_ANSWER in followed.content.decode()


@pytest.mark.django_db
def test_it_answers_the_page_the_same_for_a_repeat(delivered, django_capture_on_commit_callbacks):
    link = used_link()
    page = reverse("bookings:one-time-link", kwargs={"token": link.token})
    data = {"action": "renew", "email": "visitor@example.com"}

    with django_capture_on_commit_callbacks(execute=True):
        first = Client().post(page, data)
        again = Client().post(page, data)

    assert (first.status_code, first["Location"]) == (again.status_code, again["Location"])
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_it_shows_a_bad_email_on_the_page(delivered):
    link = used_link()
    page = reverse("bookings:one-time-link", kwargs={"token": link.token})

    response = Client().post(page, {"action": "renew", "email": "nope"})

    assert response.status_code == 400
    assert 'id="id_renew_email-error"' in response.content.decode()
    assert not OutboxMessage.objects.exists()


@pytest.mark.smtp
@pytest.mark.django_db
def test_it_mails_the_owner_through_a_real_smtp_server(
    smtp_server, delivered, django_capture_on_commit_callbacks
):
    link = used_link()
    with django_capture_on_commit_callbacks(execute=True):
        ask(link, email="visitor@example.com")
        ask(link, email="visitor@example.com")

    for message_id in delivered:
        outbox_deliver(message_id=message_id)

    [received] = smtp_server.wait_for(1)
    assert received["To"] == "owner@example.com"
    assert "Roof consult" in received["Subject"]
    assert "visitor@example.com" in received.get_body(("plain",)).get_content()
    assert smtp_server.to("visitor@example.com") == []


@pytest.mark.redis
@pytest.mark.smtp
@pytest.mark.postgres
def test_it_mails_the_owner_once_through_the_outbox_worker(smtp_server, celery_worker_factory):
    worker = celery_worker_factory()
    link = used_link()

    assert ask(link).status_code == 202
    assert ask(link).status_code == 202

    [received] = smtp_server.wait_for(1)
    assert received["To"] == "owner@example.com"
    wait_until(
        lambda: (
            list(OutboxMessage.objects.values_list("status", flat=True))
            == [OutboxMessage.Status.SENT]
        ),
        what="the owner's email marked sent",
        worker=worker,
    )
    assert len(smtp_server.messages) == 1
