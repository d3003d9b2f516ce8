"""The one-time link page /l/<token>/: booking page, consume once, 410 and 404 pages, headers."""

import logging
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services.bookings import booking_cancel
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db

# Monday 7 January 2030, 08:00 UTC; the factory calendar is open Mon-Fri 09:00-17:00 UTC.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
OTHER_SLOT = datetime(2030, 1, 8, 11, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def page(link) -> str:
    return reverse("bookings:one-time-link", kwargs={"token": link.token})


def form(start=SLOT, **extra) -> dict:
    return {
        "start": start.isoformat(),
        "tz": "Europe/Lisbon",
        "name": "Ana Lima",
        "email": "ana@example.com",
        **extra,
    }


def assert_private(response) -> None:
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]


def assert_expired_page(response, link) -> None:
    assert response.status_code == 410
    html = response.content.decode()
    assert "Ask for a new link" in html
    owner = link.calendar.owner
    assert owner.get_full_name() in html
    assert f'href="mailto:{owner.email}"' in html
    assert_private(response)


def test_it_shows_the_calendars_booking_page(client):
    link = OneTimeLinkFactory(calendar=CalendarFactory(name="Intro call"))

    response = client.get(page(link), {"date": "2030-01-08", "tz": "UTC"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Intro call" in html
    assert "Confirm booking" in html
    assert "10:00" in html
    assert_private(response)


def test_it_does_not_consume_the_link_when_opened(client):
    link = OneTimeLinkFactory()

    for _ in range(3):
        assert client.get(page(link)).status_code == 200

    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.exists()


def test_it_prefills_the_contact_the_link_was_made_for(client):
    contact = ContactFactory(first_name="Ana", last_name="Lima", email="ana@example.com")
    link = OneTimeLinkFactory(contact=contact)

    response = client.get(page(link))

    assert response.context["form"].initial == {"name": "Ana Lima", "email": "ana@example.com"}
    html = response.content.decode()
    assert 'value="Ana Lima"' in html
    assert 'value="ana@example.com"' in html


def test_it_leaves_the_form_empty_for_a_link_without_contact(client):
    link = OneTimeLinkFactory()

    response = client.get(page(link))

    assert response.context["form"].initial == {}


def test_it_points_the_page_script_at_the_links_slots_api(client):
    link = OneTimeLinkFactory()

    response = client.get(page(link))

    assert f"/api/public/links/{link.token}/slots/" in response.content.decode()
    assert f"/api/public/calendars/{link.calendar.slug}/" not in response.content.decode()


def test_it_books_and_redirects_to_the_confirmation_page(client):
    link = OneTimeLinkFactory()

    response = client.post(page(link), form())

    assert response.status_code == 303
    booking = Booking.objects.get()
    assert response.headers["Location"] == reverse(
        "bookings:booking", kwargs={"token": booking.token}
    )
    assert booking.source == BookingSource.ONE_TIME_LINK
    assert booking.start == SLOT
    assert booking.timezone == "Europe/Lisbon"
    link.refresh_from_db()
    assert link.bookings.get() == booking
    assert link.used_at == NOW
    assert_private(response)


def test_it_books_without_a_csrf_token_as_browsers_post_with_origin_null_under_no_referrer():
    link = OneTimeLinkFactory()
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(page(link), form(), HTTP_ORIGIN="null")

    assert response.status_code == 303
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED


def test_it_shows_the_expired_page_when_reopened_after_booking(client):
    link = OneTimeLinkFactory()
    client.post(page(link), form())

    response = client.get(page(link))

    assert_expired_page(response, link)


def test_it_refuses_a_second_booking_with_the_expired_page(client):
    link = OneTimeLinkFactory()
    client.post(page(link), form())

    response = client.post(page(link), form(OTHER_SLOT, email="other@example.com"))

    assert_expired_page(response, link)
    assert Booking.objects.count() == 1


def test_it_does_not_revive_the_link_when_the_booking_is_cancelled(client):
    link = OneTimeLinkFactory()
    client.post(page(link), form())

    booking_cancel(booking=Booking.objects.get())

    assert_expired_page(client.get(page(link)), link)


@pytest.mark.parametrize(
    "fields",
    [
        {"used_at": NOW - timedelta(hours=1)},
        {"expires_at": NOW - timedelta(seconds=1)},
        {"revoked_at": NOW - timedelta(hours=1)},
    ],
    ids=["used", "expired", "revoked"],
)
def test_it_shows_the_expired_page_with_the_owners_name_and_email(client, fields):
    owner = UserFactory(first_name="Rita", last_name="Owner", email="rita@example.com")
    link = OneTimeLinkFactory(calendar=CalendarFactory(owner=owner), **fields)

    for response in [client.get(page(link)), client.post(page(link), form())]:
        assert_expired_page(response, link)
        assert "Rita Owner" in response.content.decode()

    assert not Booking.objects.exists()


def test_it_shows_the_expired_page_when_the_calendar_stopped_taking_bookings(client):
    link = OneTimeLinkFactory(calendar=CalendarFactory(is_active=False))

    assert_expired_page(client.get(page(link)), link)


def test_it_keeps_the_link_active_when_the_time_was_taken(client):
    link = OneTimeLinkFactory()
    BookingFactory(calendar=link.calendar, start=SLOT)

    response = client.post(page(link), form())

    assert response.status_code == 409
    assert "just taken" in response.content.decode()
    assert_private(response)
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert client.post(page(link), form(OTHER_SLOT)).status_code == 303


def test_it_keeps_the_link_active_on_bad_input(client):
    link = OneTimeLinkFactory()

    response = client.post(page(link), form(email="not-an-email"))

    assert response.status_code == 400
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.ACTIVE
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "token",
    [
        "x" * 34,
        "short",
        "x" * 10_000,
        "a.b~c" * 7,
        "%F0%9F%98%80" * 6,
    ],
)
def test_it_answers_unknown_and_malformed_tokens_with_the_sites_404_page(client, token):
    OneTimeLinkFactory()
    ordinary = client.get("/there-is-nothing-here/")

    response = client.get(f"/l/{token}/")

    assert response.status_code == ordinary.status_code == 404
    assert response.content == ordinary.content
    assert_private(response)


def test_it_answers_a_tampered_token_with_the_sites_404_page(client):
    link = OneTimeLinkFactory()
    tampered = link.token[:20] + ("A" if link.token[20] != "A" else "B") + link.token[21:]
    ordinary = client.get("/there-is-nothing-here/")

    get = client.get(f"/l/{tampered}/")
    post = client.post(f"/l/{tampered}/", form())

    assert get.status_code == post.status_code == 404
    assert get.content == post.content == ordinary.content
    assert not Booking.objects.exists()


# Logs


@pytest.fixture
def console_output():
    """What the configured console handler (with its redacting filter) actually writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_it_keeps_tokens_out_of_the_request_log(client, caplog, console_output):
    used = OneTimeLinkFactory(used_at=NOW)
    tampered = used.token[:-1] + ("A" if used.token[-1] != "A" else "B")

    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(page(used)).status_code == 410
        assert client.get(f"/l/{tampered}/").status_code == 404
        assert client.get(f"/api/public/links/{used.token}/slots/").status_code == 410

    request_records = [r for r in caplog.records if r.name == "django.request"]
    assert len(request_records) == 3
    for text in [caplog.text, console_output.getvalue()]:
        assert "/l/[redacted]/" in text
        assert used.token not in text
        assert tampered not in text


def test_it_keeps_tokens_out_of_the_server_access_log(caplog, console_output):
    link = OneTimeLinkFactory()
    server_log = logging.getLogger("django.server")
    # django.server does not propagate to the root logger, where caplog listens.
    server_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="django.server"):
            server_log.info('"%s" %s %s', f"GET /l/{link.token}/ HTTP/1.1", "200", "1234")
            server_log.info(
                '"%s" %s %s', f"POST /api/public/links/{link.token}/bookings/ HTTP/1.1", "201", "9"
            )
    finally:
        server_log.removeHandler(caplog.handler)

    assert len([r for r in caplog.records if r.name == "django.server"]) == 2
    for text in [caplog.text, console_output.getvalue()]:
        assert "/l/[redacted]/" in text
        assert "/links/[redacted]/bookings/" in text
        assert link.token not in text


@pytest.fixture
def every_stream_handler_output():
    """What every stream handler of the request loggers writes, ours and Django's own."""
    stream = StringIO()
    handlers = {
        handler
        for name in ("", "django", "django.request")
        for handler in logging.getLogger(name).handlers
        if type(handler) is logging.StreamHandler
    }
    previous = {handler: handler.setStream(stream) for handler in handlers}
    yield stream
    for handler, old in previous.items():
        handler.setStream(old)


def test_it_keeps_tokens_out_of_the_request_log_with_debug_on(
    client, settings, every_stream_handler_output
):
    # `make run` serves with DEBUG on, where Django's own console handler on the "django"
    # logger writes "Gone: /l/..." too, unless our configuration replaces it.
    settings.DEBUG = True
    used = OneTimeLinkFactory(used_at=NOW)

    assert client.get(page(used)).status_code == 410

    text = every_stream_handler_output.getvalue()
    assert "/l/[redacted]/" in text
    assert used.token not in text
