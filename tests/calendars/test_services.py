from datetime import date, time

import pytest
from django.core.exceptions import ValidationError

from bookings.models import Booking
from calendars.models import Calendar, DateOverride, WeeklyInterval
from calendars.services import CalendarInUse, calendar_create, calendar_delete, calendar_update
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db


def create(**overrides) -> Calendar:
    fields = {"name": "Consult", "slug": "consult", "timezone": "Europe/Berlin"}
    fields.update(overrides)
    return calendar_create(owner=fields.pop("owner", None) or UserFactory(), **fields)


def test_it_creates_a_calendar_with_hours_and_overrides():
    calendar = create(
        weekly_hours=[(0, time(9), time(12)), (0, time(13), time(17))],
        date_overrides=[(date(2027, 3, 16), None, None)],
    )
    calendar.refresh_from_db()
    assert calendar.slot_interval_minutes == calendar.duration_minutes
    assert list(calendar.weekly_hours.values_list("weekday", "start", "end")) == [
        (0, time(9), time(12)),
        (0, time(13), time(17)),
    ]
    assert list(calendar.date_overrides.values_list("date", "start", "end")) == [
        (date(2027, 3, 16), None, None)
    ]


def test_it_refuses_an_unknown_timezone_on_the_field():
    with pytest.raises(ValidationError) as caught:
        create(timezone="Mars/Olympus")
    assert "timezone" in caught.value.message_dict
    assert not Calendar.objects.exists()


def test_it_refuses_a_zero_duration_on_the_field():
    with pytest.raises(ValidationError) as caught:
        create(duration_minutes=0)
    assert list(caught.value.message_dict) == ["duration_minutes"]


def test_it_refuses_overlapping_hours_and_writes_nothing():
    with pytest.raises(ValidationError) as caught:
        create(weekly_hours=[(0, time(9), time(12)), (0, time(11), time(13))])
    assert "overlaps" in caught.value.message_dict["weekly_hours"][0]
    assert not Calendar.objects.exists()


def test_it_refuses_a_closed_date_with_hours():
    day = date(2027, 3, 16)
    with pytest.raises(ValidationError) as caught:
        create(date_overrides=[(day, None, None), (day, time(9), time(10))])
    assert "date_overrides" in caught.value.message_dict


def test_it_refuses_a_taken_slug():
    CalendarFactory(slug="consult")
    with pytest.raises(ValidationError) as caught:
        create(slug="consult")
    assert "slug" in caught.value.message_dict


def test_it_refuses_fields_that_are_not_editable():
    with pytest.raises(TypeError):
        create(public_id="mine")


def test_it_replaces_the_hour_sets_on_update():
    calendar = CalendarFactory()
    closed_rows = [(date(2027, 1, 1), None, None)]
    calendar_update(
        calendar=calendar,
        weekly_hours=[(5, time(10), time(11))],
        date_overrides=closed_rows,
    )
    assert list(WeeklyInterval.objects.filter(calendar=calendar).values_list("weekday")) == [(5,)]
    assert DateOverride.objects.filter(calendar=calendar).count() == 1


def test_it_keeps_the_hours_when_update_omits_them():
    calendar = CalendarFactory()
    calendar_update(calendar=calendar, name="Renamed")
    calendar.refresh_from_db()
    assert calendar.name == "Renamed"
    assert calendar.weekly_hours.count() == 5


def test_it_keeps_everything_when_an_update_is_refused():
    calendar = CalendarFactory()
    with pytest.raises(ValidationError):
        calendar_update(calendar=calendar, name="New", weekly_hours=[(0, time(9), time(8))])
    calendar.refresh_from_db()
    assert calendar.name != "New"
    assert calendar.weekly_hours.count() == 5


def test_it_deletes_a_calendar_without_bookings():
    calendar = CalendarFactory()
    calendar_delete(calendar=calendar)
    assert not Calendar.objects.filter(pk=calendar.pk).exists()


def test_it_refuses_to_delete_a_calendar_with_bookings():
    booking = BookingFactory()
    with pytest.raises(CalendarInUse):
        calendar_delete(calendar=booking.calendar)
    assert Booking.objects.filter(pk=booking.pk).exists()
