"""One-time link options: uses, a date range, a contact lock, and open tracking (API, page,
command line)."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import api_token_create
from bookings.models import Booking, OneTimeLink
from bookings.services.bookings import booking_cancel
from bookings.services.one_time_links import one_time_link_generate, one_time_link_url
from tests.bookings.factories import OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, UserFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db

# Monday 7 January 2030, 08:00 UTC; the factory calendar is open Mon-Fri 09:00-17:00 UTC.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
TUESDAY = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
WEDNESDAY = datetime(2030, 1, 9, 10, 0, tzinfo=UTC)
THURSDAY = datetime(2030, 1, 10, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def staff_api(user) -> APIClient:
    client = APIClient()
    _token, key = api_token_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def create(calendar, **body):
    return staff_api(calendar.owner).post(
        f"/api/calendars/{calendar.pk}/one-time-links/", body, format="json"
    )


def book_api(link, start=WEDNESDAY, email="ana@example.com"):
    body = {"start": start.isoformat(), "name": "Ana Lima", "email": email, "timezone": "UTC"}
    return APIClient().post(f"/api/public/links/{link.token}/bookings/", body, format="json")


def page(link) -> str:
    return reverse("bookings:one-time-link", kwargs={"token": link.token})


def page_form(start=WEDNESDAY, email="ana@example.com") -> dict:
    return {"start": start.isoformat(), "tz": "UTC", "name": "Ana Lima", "email": email}


def ranged_link(**extra) -> OneTimeLink:
    return one_time_link_generate(
        calendar=CalendarFactory(),
        bookable_from=date(2030, 1, 9),
        bookable_until=date(2030, 1, 10),
        **extra,
    )


# Creating


def test_it_creates_a_link_with_uses_range_and_lock_through_the_api():
    calendar = CalendarFactory()
    contact = ContactFactory(owner=calendar.owner)

    response = create(
        calendar,
        contact=contact.pk,
        max_uses=3,
        bookable_from="2030-01-09",
        bookable_until="2030-01-10",
        lock_to_contact=True,
    )

    assert response.status_code == 201
    body = response.json()
    link = OneTimeLink.objects.get(pk=body["id"])
    assert (link.max_uses, link.uses, link.lock_to_contact) == (3, 0, True)
    assert (link.bookable_from, link.bookable_until) == (date(2030, 1, 9), date(2030, 1, 10))
    assert body["max_uses"] == 3
    assert body["uses"] == 0
    assert body["bookable_from"] == "2030-01-09"
    assert body["bookable_until"] == "2030-01-10"
    assert body["lock_to_contact"] is True
    assert body["source"] == "api"
    assert body["first_opened_at"] is None
    assert body["open_count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bookable_from": "2030-01-10", "bookable_until": "2030-01-09"}, "bookable_until"),
        ({"bookable_until": "2030-01-06"}, "bookable_until"),
        ({"lock_to_contact": True}, "lock_to_contact"),
        ({"max_uses": 0}, "max_uses"),
        ({"max_uses": 101}, "max_uses"),
    ],
)
def test_it_refuses_a_bad_combination_with_the_fields_error(body, field):
    calendar = CalendarFactory()

    response = create(calendar, **body)

    assert response.status_code == 400
    assert field in response.json()
    assert not OneTimeLink.objects.exists()


def test_it_expires_a_link_at_the_end_of_its_last_bookable_day():
    link = ranged_link()

    assert link.expires_at == datetime(2030, 1, 11, tzinfo=UTC)


def test_it_answers_one_link_to_its_owner():
    link = OneTimeLinkFactory(max_uses=2)

    response = staff_api(link.calendar.owner).get(f"/api/one-time-links/{link.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == link.pk
    assert response.json()["max_uses"] == 2
    assert response.json()["url"] == one_time_link_url(link=link)


def test_it_hides_a_link_from_another_staff_user():
    link = OneTimeLinkFactory()

    response = staff_api(UserFactory()).get(f"/api/one-time-links/{link.pk}/")

    assert response.status_code == 404


# Uses


def test_it_takes_one_use_per_booking_and_says_how_many_are_left():
    link = one_time_link_generate(calendar=CalendarFactory(), max_uses=2)

    first = book_api(link, start=TUESDAY)

    assert first.status_code == 201
    link.refresh_from_db()
    assert (link.uses, link.state) == (1, OneTimeLink.State.ACTIVE)
    assert APIClient().get(f"/api/public/links/{link.token}/").json()["uses_left"] == 1
    assert book_api(link, start=WEDNESDAY).status_code == 201
    link.refresh_from_db()
    assert (link.uses, link.state) == (2, OneTimeLink.State.USED)
    assert book_api(link, start=THURSDAY).status_code == 410
    assert link.bookings.count() == 2


def test_it_never_gives_a_use_back_when_a_booking_is_cancelled():
    link = one_time_link_generate(calendar=CalendarFactory(), max_uses=1)
    assert book_api(link).status_code == 201

    booking_cancel(booking=Booking.objects.get())

    link.refresh_from_db()
    assert (link.uses, link.state) == (1, OneTimeLink.State.USED)
    assert book_api(link, start=THURSDAY).status_code == 410


# Range


def test_it_tells_the_public_the_range_and_uses_left():
    link = ranged_link(max_uses=4)

    body = APIClient().get(f"/api/public/links/{link.token}/").json()

    assert (body["bookable_from"], body["bookable_until"]) == ("2030-01-09", "2030-01-10")
    assert body["uses_left"] == 4
    assert body["lock_to_contact"] is False


def test_it_offers_slots_only_inside_the_range_through_the_api():
    link = ranged_link()

    response = APIClient().get(
        f"/api/public/links/{link.token}/slots/", {"start": "2030-01-07", "end": "2030-01-11"}
    )

    assert response.status_code == 200
    assert sorted(response.json()["slots"]) == ["2030-01-09", "2030-01-10"]


def test_it_offers_days_only_inside_the_range_on_the_page():
    link = ranged_link()

    html = Client().get(page(link), {"month": "2030-01"}).content.decode()

    assert 'data-date="2030-01-09"' in html
    assert 'data-date="2030-01-10"' in html
    assert 'data-date="2030-01-08"' not in html
    assert 'data-date="2030-01-11"' not in html


def test_it_refuses_a_booking_outside_the_range_through_the_api():
    link = ranged_link()

    response = book_api(link, start=TUESDAY)

    assert response.status_code == 400
    assert "start" in response.json()
    link.refresh_from_db()
    assert (link.uses, link.state) == (0, OneTimeLink.State.ACTIVE)
    assert not Booking.objects.exists()


def test_it_refuses_a_booking_outside_the_range_on_the_page():
    link = ranged_link()

    response = Client().post(page(link), page_form(start=TUESDAY))

    assert response.status_code == 400
    assert "only on the dates it was made for" in response.content.decode()
    link.refresh_from_db()
    assert link.uses == 0
    assert not Booking.objects.exists()


def test_it_books_inside_the_range_on_the_page():
    link = ranged_link()

    response = Client().post(page(link), page_form(start=THURSDAY))

    assert response.status_code == 303
    assert Booking.objects.get().start == THURSDAY


# Lock to contact


def locked_link() -> OneTimeLink:
    calendar = CalendarFactory()
    contact = ContactFactory(
        owner=calendar.owner, email="ana@example.com", first_name="Ana", last_name="Lima"
    )
    return one_time_link_generate(calendar=calendar, contact=contact, lock_to_contact=True)


def test_it_refuses_another_email_for_a_link_locked_to_its_contact():
    link = locked_link()

    response = book_api(link, email="someone@example.com")

    assert response.status_code == 400
    assert list(response.json()) == ["email"]
    link.refresh_from_db()
    assert (link.uses, link.state) == (0, OneTimeLink.State.ACTIVE)
    assert not Booking.objects.exists()


def test_it_accepts_the_contacts_email_in_any_case():
    link = locked_link()

    response = book_api(link, email="ANA@Example.COM")

    assert response.status_code == 201
    link.refresh_from_db()
    assert link.state == OneTimeLink.State.USED


def test_it_shows_the_locked_email_read_only_on_the_page():
    link = locked_link()

    html = Client().get(page(link)).content.decode()

    assert 'value="ana@example.com" autocomplete="email" maxlength="254" required readonly' in html


def test_it_refuses_another_email_on_the_page():
    link = locked_link()

    response = Client().post(page(link), page_form(email="someone@example.com"))

    assert response.status_code == 400
    assert "This link is for another email address." in response.content.decode()
    assert not Booking.objects.exists()


# Tracking


def test_it_does_not_count_a_bare_get_as_an_open():
    link = OneTimeLinkFactory()

    response = Client().get(page(link))

    assert response.status_code == 200
    link.refresh_from_db()
    assert (link.first_opened_at, link.open_count) == (None, 0)


def test_it_counts_a_day_view_as_an_open(frozen_time):
    link = OneTimeLinkFactory()

    response = Client().get(page(link), {"date": "2030-01-08"})
    frozen_time.shift(timedelta(minutes=5))
    Client().get(page(link), {"date": "2030-01-09"})

    assert response.status_code == 200
    link.refresh_from_db()
    assert (link.first_opened_at, link.open_count) == (NOW, 2)


def test_it_counts_the_times_the_page_script_reads_as_an_open():
    link = OneTimeLinkFactory()

    response = APIClient().get(
        f"/api/public/links/{link.token}/slots/", {"start": "2030-01-07", "end": "2030-01-11"}
    )

    assert response.status_code == 200
    link.refresh_from_db()
    assert (link.first_opened_at, link.open_count) == (NOW, 1)


def test_it_does_not_count_a_spent_links_page_as_an_open():
    link = OneTimeLinkFactory(revoked_at=NOW)

    response = Client().get(page(link), {"date": "2030-01-08"})

    assert response.status_code == 410
    link.refresh_from_db()
    assert link.open_count == 0


# Command line


def run(*args) -> list[str]:
    out = StringIO()
    call_command("generate_one_time_link", *args, stdout=out)
    return out.getvalue().split()


def test_it_generates_a_link_with_every_option_from_the_command_line():
    calendar = CalendarFactory()

    [url] = run(
        calendar.slug,
        "--contact",
        "ana@example.com",
        "--uses",
        "3",
        "--from",
        "2030-01-09",
        "--until",
        "2030-01-10",
        "--lock-to-contact",
    )

    link = OneTimeLink.objects.get()
    assert url == one_time_link_url(link=link)
    assert (link.max_uses, link.lock_to_contact, link.source) == (3, True, "cli")
    assert (link.bookable_from, link.bookable_until) == (date(2030, 1, 9), date(2030, 1, 10))
    assert link.contact.email == "ana@example.com"


def test_it_refuses_a_lock_without_a_contact_on_the_command_line():
    calendar = CalendarFactory()

    with pytest.raises(CommandError, match="lock_to_contact"):
        run(calendar.slug, "--lock-to-contact")

    assert not OneTimeLink.objects.exists()


def test_it_refuses_too_many_uses_on_the_command_line():
    calendar = CalendarFactory()

    with pytest.raises(CommandError, match="max_uses"):
        run(calendar.slug, "--uses", "101")

    assert not OneTimeLink.objects.exists()
