import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from bookings.api.slots import slots_json
from bookings.models import Booking
from bookings.services.bookings import booking_cancel, booking_create, booking_reschedule
from calendars.availability import epoch_micros
from calendars.models import Calendar
from calendars.services import calendar_update
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, DateOverrideFactory

pytestmark = pytest.mark.django_db

# A Monday, two weeks before the dates asked about below.
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
EVERY_DAY_9_TO_17 = [(weekday, time(9), time(17)) for weekday in range(7)]
MONDAY_9_TO_17 = [(0, time(9), time(17))]


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def slots_url(calendar) -> str:
    return reverse("bookings:api-calendar-slots", kwargs={"slug": calendar.slug})


def get(client, calendar, **params):
    return client.get(slots_url(calendar), params)


def half_hours(day: str, first: str, last: str, offset: str) -> list[str]:
    start = datetime.fromisoformat(f"{day}T{first}")
    end = datetime.fromisoformat(f"{day}T{last}")
    out = []
    while start <= end:
        out.append(f"{start.isoformat()}{offset}")
        start += timedelta(minutes=30)
    return out


def test_it_lists_a_days_slots_in_the_calendars_timezone(client):
    calendar = CalendarFactory(timezone="Europe/Berlin")
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 200
    assert response.json() == {
        "calendar": calendar.slug,
        "timezone": "Europe/Berlin",
        "slots": {"2027-03-15": half_hours("2027-03-15", "09:00", "16:30", "+01:00")},
    }


def test_it_includes_the_end_date(client):
    calendar = CalendarFactory()
    response = get(client, calendar, start="2027-03-15", end="2027-03-16")
    assert response.status_code == 200
    assert list(response.json()["slots"]) == ["2027-03-15", "2027-03-16"]


def test_it_leaves_out_dates_without_slots(client):
    calendar = CalendarFactory()  # Monday to Friday
    response = get(client, calendar, start="2027-03-12", end="2027-03-15")
    assert response.status_code == 200
    assert list(response.json()["slots"]) == ["2027-03-12", "2027-03-15"]


def test_it_leaves_out_a_closed_override_date(client):
    calendar = CalendarFactory()
    DateOverrideFactory(calendar=calendar, date=datetime(2027, 3, 15).date(), start=None, end=None)
    response = get(client, calendar, start="2027-03-15", end="2027-03-16")
    assert response.status_code == 200
    assert list(response.json()["slots"]) == ["2027-03-16"]


def test_it_leaves_out_booked_slots(client):
    calendar = CalendarFactory()
    BookingFactory(calendar=calendar, start=datetime(2027, 3, 15, 10, tzinfo=UTC))
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 200
    slots = response.json()["slots"]["2027-03-15"]
    assert "2027-03-15T10:00:00+00:00" not in slots
    assert len(slots) == 15


def test_it_offers_a_cancelled_bookings_slot_again(client):
    calendar = CalendarFactory()
    start = datetime(2027, 3, 15, 10, tzinfo=UTC)
    BookingFactory(calendar=calendar, start=start, status=Booking.Status.CANCELLED)
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert "2027-03-15T10:00:00+00:00" in response.json()["slots"]["2027-03-15"]


def test_it_follows_the_dst_change_in_new_york(client):
    calendar = CalendarFactory(timezone="America/New_York", hours=EVERY_DAY_9_TO_17)
    # Clocks spring forward on Sunday 2027-03-14.
    response = get(client, calendar, start="2027-03-13", end="2027-03-15")
    assert response.status_code == 200
    slots = response.json()["slots"]
    assert slots["2027-03-13"][0] == "2027-03-13T09:00:00-05:00"
    assert slots["2027-03-14"][0] == "2027-03-14T09:00:00-04:00"
    assert slots["2027-03-15"][-1] == "2027-03-15T16:30:00-04:00"
    assert all(len(day) == 16 for day in slots.values())


def test_it_follows_the_dst_end_in_berlin_in_the_invitees_timezone(client):
    calendar = CalendarFactory(timezone="Europe/Berlin", hours=EVERY_DAY_9_TO_17)
    # Berlin falls back on Sunday 2027-10-31; asked for in UTC, the wall-clock 09:00 moves.
    with time_machine.travel(datetime(2027, 10, 1, tzinfo=UTC), tick=False):
        response = get(client, calendar, start="2027-10-30", end="2027-10-31", timezone="UTC")
    slots = response.json()["slots"]
    assert slots["2027-10-30"][0] == "2027-10-30T07:00:00+00:00"
    assert slots["2027-10-31"][0] == "2027-10-31T08:00:00+00:00"


def test_it_shifts_dates_for_an_invitee_13_hours_ahead(client):
    calendar = CalendarFactory(timezone="UTC", hours=MONDAY_9_TO_17)
    # Monday 09:00-17:00 UTC is Monday 22:00 to Tuesday 06:00 in Auckland (NZDT, +13:00).
    response = get(
        client, calendar, start="2027-03-15", end="2027-03-16", timezone="Pacific/Auckland"
    )
    assert response.status_code == 200
    assert response.json()["timezone"] == "Pacific/Auckland"
    assert response.json()["slots"] == {
        "2027-03-15": half_hours("2027-03-15", "22:00", "23:30", "+13:00"),
        "2027-03-16": half_hours("2027-03-16", "00:00", "05:30", "+13:00"),
    }


def test_it_only_answers_the_dates_asked_in_the_invitees_timezone(client):
    calendar = CalendarFactory(timezone="UTC", hours=MONDAY_9_TO_17)
    response = get(
        client, calendar, start="2027-03-16", end="2027-03-16", timezone="Pacific/Auckland"
    )
    assert list(response.json()["slots"]) == ["2027-03-16"]
    assert len(response.json()["slots"]["2027-03-16"]) == 12


def test_it_uses_the_calendars_timezone_when_the_parameter_is_empty(client):
    calendar = CalendarFactory(timezone="Asia/Tokyo")
    response = get(client, calendar, start="2027-03-15", end="2027-03-15", timezone="")
    assert response.status_code == 200
    assert response.json()["timezone"] == "Asia/Tokyo"


def test_it_answers_a_past_range_with_no_slots(client):
    calendar = CalendarFactory()
    response = get(client, calendar, start="2020-03-16", end="2020-03-20")
    assert response.status_code == 200
    assert response.json()["slots"] == {}


def test_it_needs_no_authentication_and_sets_no_cookie(client):
    calendar = CalendarFactory()
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 200
    assert not response.cookies


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2027-03-15"}, "start"),
        ({"start": "2027-03-15"}, "end"),
        ({"start": "2027-3-15", "end": "2027-03-15"}, "start"),
        ({"start": "2027-02-30", "end": "2027-03-15"}, "start"),
        ({"start": "20270315", "end": "2027-03-15"}, "start"),
        ({"start": "2027-03-15", "end": "tomorrow"}, "end"),
        ({"start": "2027-03-15", "end": "9999-12-31"}, "end"),
        ({"start": "2027-03-15", "end": "2027-03-14"}, "end"),
        ({"start": "2027-01-01", "end": "2027-04-04"}, "end"),
        ({"start": "2027-03-15", "end": "2027-03-15", "timezone": "Mars/Olympus"}, "timezone"),
        ({"start": "2027-03-15", "end": "2027-03-15", "timezone": "../../etc/passwd"}, "timezone"),
    ],
)
def test_it_refuses_a_bad_query_with_a_message_on_the_field(client, params, field):
    calendar = CalendarFactory()
    response = client.get(slots_url(calendar), params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert body[field][0]


def test_it_reports_every_bad_field_at_once(client):
    calendar = CalendarFactory()
    response = get(client, calendar, start="x", end="y", timezone="Nowhere")
    assert response.status_code == 400
    assert set(response.json()) == {"start", "end", "timezone"}


def test_it_accepts_a_range_of_exactly_93_days(client):
    calendar = CalendarFactory()
    response = get(client, calendar, start="2027-01-01", end="2027-04-03")
    assert response.status_code == 200


def test_it_answers_404_for_an_unknown_calendar(client):
    response = client.get(
        reverse("bookings:api-calendar-slots", kwargs={"slug": "nope"}),
        {"start": "2027-03-15", "end": "2027-03-15"},
    )
    assert response.status_code == 404
    assert response.json()["detail"]


def test_it_answers_404_for_an_inactive_calendar(client):
    calendar = CalendarFactory(is_active=False)
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 404


@override_settings(THROTTLE_PUBLIC_RATE="2/min")
def test_it_answers_429_past_the_public_rate(client):
    calendar = CalendarFactory()
    cache.clear()

    statuses = [get(client, calendar, start="2027-03-15", end="2027-03-15") for _ in range(3)]

    assert [response.status_code for response in statuses] == [200, 200, 429]
    assert statuses[0].json()["slots"]["2027-03-15"]
    assert statuses[2].json()["detail"]
    cache.clear()


def test_it_gives_the_same_headers_as_an_error_answer(client):
    calendar = CalendarFactory()
    ok = get(client, calendar, start="2027-03-15", end="2027-03-15")
    bad = get(client, calendar, start="2027-03-15", end="x")

    assert (ok.status_code, bad.status_code) == (200, 400)
    assert ok["Allow"] == bad["Allow"]
    assert ok["Content-Type"] == bad["Content-Type"] == "application/json"


# --- cost -------------------------------------------------------------------------------


def busy_calendar():
    calendar = CalendarFactory(
        duration_minutes=15, booking_window_days=365, hours=EVERY_DAY_9_TO_17
    )
    DateOverrideFactory(calendar=calendar, date=datetime(2027, 4, 1).date(), start=None, end=None)
    start = datetime(2027, 3, 15, 9, tzinfo=UTC)
    Booking.objects.bulk_create(
        BookingFactory.build(calendar=calendar, start=start + timedelta(days=d, hours=h))
        for d in range(93)
        for h in range(0, 8, 2)
    )
    return calendar


# The calendar's key fields; on a cache miss the whole calendar, weekly hours, overrides,
# bookings and connected-calendar busy time.
QUERY_BOUND = 6


def test_it_answers_one_day_in_a_constant_number_of_queries(client, django_assert_max_num_queries):
    calendar = busy_calendar()
    with django_assert_max_num_queries(QUERY_BOUND):
        response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 200
    assert len(response.json()["slots"]["2027-03-15"]) == 32 - 4


def test_it_answers_93_days_in_the_same_number_of_queries(client, django_assert_max_num_queries):
    calendar = busy_calendar()
    with django_assert_max_num_queries(QUERY_BOUND):
        response = get(client, calendar, start="2027-03-15", end="2027-06-15")
    assert response.status_code == 200
    slots = response.json()["slots"]
    assert len(slots) == 92  # 93 dates, one closed by an override
    assert all(len(day) == 28 for day in slots.values())


# --- a changed calendar is never served stale -------------------------------------


def test_it_answers_new_dates_with_three_queries_once_warm(client, django_assert_num_queries):
    calendar = busy_calendar()
    get(client, calendar, start="2027-03-15", end="2027-03-15")
    with django_assert_num_queries(3):  # the key's fields, the whole calendar, its bookings
        response = get(client, calendar, start="2027-03-16", end="2027-03-20")
    assert response.status_code == 200
    assert len(response.json()["slots"]) == 5


def test_it_answers_a_repeat_from_the_cache(client, django_assert_num_queries):
    calendar = busy_calendar()
    first = get(client, calendar, start="2027-03-15", end="2027-03-20")
    with django_assert_num_queries(1):  # the calendar's versions; no bookings read
        again = get(client, calendar, start="2027-03-15", end="2027-03-20")
    assert again.content == first.content


def test_it_answers_each_timezone_apart(client):
    calendar = CalendarFactory(timezone="UTC")
    get(client, calendar, start="2027-03-15", end="2027-03-15")
    response = get(client, calendar, start="2027-03-15", end="2027-03-15", timezone="Asia/Tokyo")
    assert response.json()["timezone"] == "Asia/Tokyo"
    assert response.json()["slots"]["2027-03-15"][0] == "2027-03-15T18:00:00+09:00"


def test_it_sees_a_deactivation_at_once(client):
    calendar = CalendarFactory()
    assert get(client, calendar, start="2027-03-15", end="2027-03-15").status_code == 200
    calendar.is_active = False
    calendar.save()
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 404


def test_it_sees_a_new_override_at_once(client):
    calendar = CalendarFactory()
    assert (
        "2027-03-15" in get(client, calendar, start="2027-03-15", end="2027-03-15").json()["slots"]
    )
    DateOverrideFactory(calendar=calendar, date=datetime(2027, 3, 15).date(), start=None, end=None)
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.status_code == 200
    assert response.json()["slots"] == {}


def test_it_sees_hours_replaced_through_the_service(client):
    calendar = CalendarFactory()
    get(client, calendar, start="2027-03-15", end="2027-03-15")
    calendar_update(calendar=calendar, weekly_hours=[(0, time(9), time(10))])
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.json()["slots"]["2027-03-15"] == half_hours(
        "2027-03-15", "09:00", "09:30", "+00:00"
    )


def test_it_follows_a_slug_rename(client):
    calendar = CalendarFactory()
    old_url = slots_url(calendar)
    assert client.get(old_url, {"start": "2027-03-15", "end": "2027-03-15"}).status_code == 200
    calendar.slug = "renamed"
    calendar.save()
    assert client.get(old_url, {"start": "2027-03-15", "end": "2027-03-15"}).status_code == 404
    response = get(client, calendar, start="2027-03-15", end="2027-03-15")
    assert response.json()["calendar"] == "renamed"


def test_it_sees_a_new_booking_at_once(client):
    calendar = CalendarFactory()
    get(client, calendar, start="2027-03-15", end="2027-03-15")
    BookingFactory(calendar=calendar, start=datetime(2027, 3, 15, 9, tzinfo=UTC))
    slots = get(client, calendar, start="2027-03-15", end="2027-03-15").json()["slots"]
    assert "2027-03-15T09:00:00+00:00" not in slots["2027-03-15"]


NINE = "2027-03-15T09:00:00+00:00"


def day_slots(client, calendar) -> list[str]:
    return get(client, calendar, start="2027-03-15", end="2027-03-15").json()["slots"]["2027-03-15"]


def booked_at_nine(calendar) -> Booking:
    return booking_create(
        calendar=calendar,
        start=datetime(2027, 3, 15, 9, tzinfo=UTC),
        name="Ada",
        email="ada@example.com",
        timezone="UTC",
        source="api",
    )


def test_it_sees_a_booking_through_the_service_at_once(client):
    calendar = CalendarFactory()
    assert NINE in day_slots(client, calendar)
    booked_at_nine(calendar)
    assert NINE not in day_slots(client, calendar)


def test_it_sees_a_cancellation_at_once(client):
    calendar = CalendarFactory()
    booking = booked_at_nine(calendar)
    assert NINE not in day_slots(client, calendar)
    booking_cancel(booking=booking)
    assert NINE in day_slots(client, calendar)


def test_it_sees_a_reschedule_at_once(client):
    calendar = CalendarFactory()
    booking = booked_at_nine(calendar)
    assert NINE not in day_slots(client, calendar)
    booking_reschedule(booking=booking, start=datetime(2027, 3, 15, 10, tzinfo=UTC))
    slots = day_slots(client, calendar)
    assert NINE in slots
    assert "2027-03-15T10:00:00+00:00" not in slots


def test_it_sees_a_deleted_booking_at_once(client):
    calendar = CalendarFactory()
    BookingFactory(calendar=calendar, start=datetime(2027, 3, 15, 9, tzinfo=UTC))
    assert NINE not in day_slots(client, calendar)
    Booking.objects.filter(calendar=calendar).delete()  # as the admin's bulk delete does
    assert NINE in day_slots(client, calendar)


def test_it_answers_anew_when_the_minute_turns(client):
    # Notice and the window move with the clock; a cached answer lives within its minute.
    calendar = CalendarFactory(min_notice_minutes=0)
    with time_machine.travel(datetime(2027, 3, 15, 8, 59, 30, tzinfo=UTC), tick=False):
        assert NINE in day_slots(client, calendar)
    with time_machine.travel(datetime(2027, 3, 15, 9, 0, 1, tzinfo=UTC), tick=False):
        assert NINE not in day_slots(client, calendar)


def test_it_leaves_attendance_marks_out_of_the_versions():
    # A mark takes the booking's lock alone (bookings/slot_versions.py).
    calendar = CalendarFactory()
    booking = BookingFactory(calendar=calendar, start=datetime(2027, 3, 15, 9, tzinfo=UTC))
    version = Calendar.objects.get(pk=calendar.pk).bookings_version
    booking.attendance = Booking.Attendance.SHOWED
    booking.save(update_fields=["attendance"])
    assert Calendar.objects.get(pk=calendar.pk).bookings_version == version


# --- the answer's text ------------------------------------------------------------------------

MINUTE_US = 60_000_000


def slots_text(starts: list[int], tz) -> dict[str, list[str]]:
    """The "slots" part of the answer slots_json writes."""
    return json.loads(slots_json(label="x", timezone_name=tz.key, starts=starts, tz=tz))["slots"]


def test_it_files_starts_under_their_local_date_across_a_dst_change():
    tz = ZoneInfo("Europe/Berlin")  # clocks go forward at 01:00 UTC on 28 March 2027
    starts = [
        epoch_micros(datetime(2027, 3, 27, 23, 30, tzinfo=UTC)) + n * 60 * MINUTE_US
        for n in range(3)
    ]

    assert slots_text(starts, tz) == {
        "2027-03-28": [
            "2027-03-28T00:30:00+01:00",
            "2027-03-28T01:30:00+01:00",
            "2027-03-28T03:30:00+02:00",
        ]
    }


def test_it_writes_an_offset_with_seconds_as_isoformat_does():
    # Amsterdam kept its local mean time, +00:19:32 in winter, until 1937.
    tz = ZoneInfo("Europe/Amsterdam")
    start = epoch_micros(datetime(1935, 1, 3, 9, tzinfo=UTC))
    starts = [start, start + 15 * MINUTE_US]

    grouped = slots_text(starts, tz)

    assert grouped == {
        "1935-01-03": ["1935-01-03T09:19:32+00:19:32", "1935-01-03T09:34:32+00:19:32"]
    }


def test_it_answers_json_whatever_the_client_accepts(client):
    calendar = CalendarFactory()
    response = client.get(
        slots_url(calendar), {"start": "2027-03-15", "end": "2027-03-15"}, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["slots"]["2027-03-15"]


def test_it_writes_any_label_as_valid_json():
    label = 'Dr. "Quote" \\ Zoë\u2028 <script>'
    tz = ZoneInfo("Europe/Berlin")

    body = slots_json(label=label, timezone_name="Europe/Berlin", starts=[], tz=tz)

    assert json.loads(body) == {"calendar": label, "timezone": "Europe/Berlin", "slots": {}}
