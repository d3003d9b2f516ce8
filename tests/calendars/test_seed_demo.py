from io import StringIO

import pytest
from django.core.management import call_command

from calendars.models import Calendar


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_seeds_a_demo_calendar_with_weekday_hours():
    seed()

    calendar = Calendar.objects.get(slug="intro-call")
    assert sorted({w.weekday for w in calendar.weekly_hours.all()}) == [0, 1, 2, 3, 4]


@pytest.mark.django_db
def test_it_is_harmless_to_run_twice():
    seed()
    seed()

    assert Calendar.objects.filter(slug="intro-call").count() == 1
    assert Calendar.objects.get(slug="intro-call").weekly_hours.count() == 10


@pytest.mark.django_db
def test_it_prints_a_password_that_logs_in(client):
    output = seed()
    password = output.split("password '")[1].split("'")[0]

    assert client.login(username="demo", password=password)


@pytest.mark.django_db
def test_it_prints_a_slots_url_that_answers(client):
    output = seed()
    url = output.split("Slots API:")[1].split()[0].replace("http://testserver", "")

    assert client.get(url).status_code == 200
