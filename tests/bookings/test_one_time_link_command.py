"""`manage.py generate_one_time_link`: one URL a line, clear errors."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from bookings.models import OneTimeLink
from bookings.services.one_time_links import one_time_link_get_by_token
from contacts.models import Contact
from tests.calendars.factories import CalendarFactory
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command("generate_one_time_link", *args, stdout=out)
    return out.getvalue().splitlines()


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_it_prints_one_working_url(settings):
    calendar = CalendarFactory()

    lines = run(calendar.slug)

    assert len(lines) == 1
    assert lines[0].startswith(f"{settings.SITE_URL}/l/")
    link = one_time_link_get_by_token(token=token_of(lines[0]))
    assert link.calendar == calendar
    assert link.expires_at is None
    assert link.created_by_process == "manage.py generate_one_time_link"


def test_it_prints_count_distinct_urls():
    calendar = CalendarFactory()

    lines = run(calendar.slug, "--count", "5")

    assert len(set(lines)) == 5
    assert OneTimeLink.objects.filter(calendar=calendar).count() == 5


@pytest.mark.parametrize(
    ("text", "delta"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7))],
)
def test_it_sets_the_expiry_from_a_duration(text, delta):
    calendar = CalendarFactory()

    with time_machine.travel("2030-01-07 10:00:00+00:00", tick=False):
        run(calendar.slug, "--expires-in", text)
        expected = timezone.now() + delta

    assert OneTimeLink.objects.get(calendar=calendar).expires_at == expected


def test_it_makes_links_for_an_existing_contact():
    calendar = CalendarFactory()
    contact = ContactFactory(owner=calendar.owner, email="ana@example.com")
    ContactFactory(email="ana@example.com")  # another owner's, not this calendar's

    run(calendar.slug, "--contact", "ANA@example.com")

    assert OneTimeLink.objects.get(calendar=calendar).contact == contact


def test_it_creates_the_contact_when_new():
    calendar = CalendarFactory()

    run(calendar.slug, "--contact", "new@example.com")

    assert OneTimeLink.objects.get(calendar=calendar).contact.email == "new@example.com"


def test_it_refuses_an_unknown_slug():
    with pytest.raises(CommandError, match="No calendar with the slug 'nope'"):
        run("nope")

    assert not OneTimeLink.objects.exists()


@pytest.mark.parametrize("bad", ["7x", "d7", "7", "-1d", "0d", "", "1.5h", "99999999d"])
def test_it_refuses_a_bad_duration(bad):
    calendar = CalendarFactory()

    with pytest.raises(CommandError, match="--expires-in"):
        run(calendar.slug, "--expires-in", bad)

    assert not OneTimeLink.objects.exists()


@pytest.mark.parametrize("count", ["0", "-3", "1001"])
def test_it_refuses_a_bad_count(count):
    calendar = CalendarFactory()

    with pytest.raises(CommandError, match="--count"):
        run(calendar.slug, "--count", count)


def test_it_refuses_a_bad_contact_email_and_makes_nothing():
    calendar = CalendarFactory()

    with pytest.raises(CommandError, match="email"):
        run(calendar.slug, "--contact", "not-an-email")

    assert not OneTimeLink.objects.exists()
    assert not Contact.objects.exists()
