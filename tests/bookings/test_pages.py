"""The public booking pages through Django's test client, without JavaScript."""

import re
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from bookings.models import Booking, BookingSource
from bookings.views.pages import booking_url
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, DateOverrideFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 7 January 2030, 08:00 UTC; factory calendars are open Mon-Fri 09:00-17:00 UTC.
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)  # Tuesday 10:00 UTC


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar():
    owner = UserFactory(first_name="Robin", last_name="Okafor")
    return CalendarFactory(
        owner=owner,
        name="Intro call",
        slug="intro",
        duration_minutes=45,
        slot_interval_minutes=60,
        description="A first chat about your project.",
    )


def page(client, calendar, **params):
    url = calendar.scheduling_path()
    return client.get(f"{url}?{urlencode(params)}" if params else url)


def times_on_page(response) -> list[str]:
    return re.findall(r'<label class="time-btn" for="time-\d+">(\d\d:\d\d)</label>', response.text)


def free_days_on_page(response) -> list[str]:
    return re.findall(
        r'<a class="day free[^"]*" href="[^"]*" rel="nofollow" data-date="([^"]+)"', response.text
    )


def post_booking(client, url, *, follow=False, **overrides):
    data = {
        "start": SLOT.isoformat(),
        "tz": "UTC",
        "name": "Jamie Rivera",
        "email": "jamie@example.com",
        "phone": "",
        "notes": "",
    }
    data.update(overrides)
    return client.post(url, data, follow=follow)


def test_it_shows_name_owner_duration_and_description(client, calendar):
    response = page(client, calendar)

    assert response.status_code == 200
    assert "Intro call" in response.text
    assert "Robin Okafor" in response.text
    assert "45 min" in response.text
    assert "A first chat about your project." in response.text


def test_it_marks_only_days_with_free_slots(client, calendar):
    response = page(client, calendar)

    days = free_days_on_page(response)
    assert "2030-01-07" in days  # today, later hours still free
    assert "2030-01-08" in days
    assert "2030-01-12" not in days  # Saturday
    assert "2030-01-06" not in days  # yesterday


def test_it_selects_the_first_free_day_and_lists_its_times(client, calendar):
    response = page(client, calendar)

    assert "Monday, 7 January 2030" in response.text
    assert times_on_page(response) == [
        "09:00",
        "10:00",
        "11:00",
        "12:00",
        "13:00",
        "14:00",
        "15:00",
        "16:00",
    ]


def test_it_shows_the_chosen_day(client, calendar):
    response = page(client, calendar, date="2030-01-09")

    assert response.status_code == 200
    assert "Wednesday, 9 January 2030" in response.text
    selected = 'data-date="2030-01-09" aria-label="Wednesday, 9 January 2030, 8 free times"'
    assert f'{selected} aria-current="true"' in response.text


def test_it_navigates_to_the_next_month(client, calendar):
    response = page(client, calendar, month="2030-02")

    assert response.status_code == 200
    assert "February 2030" in response.text
    assert "2030-02-01" in free_days_on_page(response)
    assert "month=2030-01" in response.text  # the link back
    assert "month=2030-03" in response.text  # the link on


def test_it_offers_no_previous_month_before_the_current_one(client, calendar):
    response = page(client, calendar)

    assert 'aria-label="Previous month"' not in response.text
    assert 'aria-label="Next month"' in response.text


def test_it_clamps_a_month_beyond_the_booking_window(client, calendar):
    response = page(client, calendar, month="2031-06")

    assert response.status_code == 200
    assert "March 2030" in response.text  # 60 days from 7 January
    assert 'aria-label="Next month"' not in response.text


def test_it_moves_on_to_the_next_month_when_this_one_is_fully_past(client):
    calendar = CalendarFactory()
    with time_machine.travel(datetime(2030, 1, 31, 18, 0, tzinfo=UTC), tick=False):
        response = page(client, calendar)

    assert "February 2030" in response.text
    assert "Friday, 1 February 2030" in response.text


def test_it_shows_times_in_the_chosen_timezone(client, calendar):
    response = page(client, calendar, tz="Asia/Tokyo", date="2030-01-08")

    # 09:00-16:00 UTC on Tuesday are 18:00-01:00 in Tokyo; Tuesday in Tokyo holds the
    # Monday 15:00/16:00 UTC slots (00:00, 01:00) and Tuesday 09:00-14:00 UTC (18:00-23:00).
    assert times_on_page(response) == [
        "00:00",
        "01:00",
        "18:00",
        "19:00",
        "20:00",
        "21:00",
        "22:00",
        "23:00",
    ]
    assert 'value="Asia/Tokyo" selected' in response.text
    assert "Asia/Tokyo" in response.text


def test_it_keeps_the_timezone_in_its_links(client, calendar):
    response = page(client, calendar, tz="America/New_York")

    assert "tz=America%2FNew_York" in response.text
    assert '<input type="hidden" name="tz" value="America/New_York"' in response.text


def test_it_preselects_a_time_given_in_the_url(client, calendar):
    start = SLOT.astimezone(ZoneInfo("Europe/Berlin"))
    response = page(client, calendar, tz="Europe/Berlin", time=start.isoformat())

    assert response.status_code == 200
    assert f'value="{start.isoformat()}" checked' in response.text
    assert "Tuesday, 8 January 2030 at 11:00 (Europe/Berlin)" in response.text


def test_it_says_when_a_time_in_the_url_is_no_longer_free(client, calendar):
    BookingFactory(calendar=calendar, start=SLOT)

    response = page(client, calendar, time=SLOT.isoformat())

    assert response.status_code == 200
    assert "That time is no longer free" in response.text
    assert "10:00" not in times_on_page(response)


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2030-13"},
        {"month": "x" * 7},
        {"date": "2030-02-30"},
        {"tz": "Mars/Olympus"},
        {"tz": "../../etc/passwd"},
        {"time": "not-a-time"},
        {"time": "2030-01-08T10:00:00"},  # no offset
        {"time": "0001-01-01T00:00:00+14:00"},  # before datetime's range once in UTC
        {"time": "9999-12-31T23:59:59-14:00"},  # after it
        {"time": "9999-12-31T23:00:00+00:00", "tz": "Pacific/Kiritimati"},
    ],
)
def test_it_falls_back_to_defaults_for_bad_query_parameters(client, calendar, params):
    response = page(client, calendar, **params)

    assert response.status_code == 200
    assert "Intro call" in response.text


def test_it_books_and_redirects_to_the_confirmation_page(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), tz="Europe/Berlin")

    assert response.status_code == 303
    booking = Booking.objects.get()
    assert response["Location"] == reverse("bookings:booking", kwargs={"token": booking.token})
    assert booking.start == SLOT
    assert booking.invitee_email == "jamie@example.com"
    assert booking.timezone == "Europe/Berlin"
    assert booking.source == BookingSource.SCHEDULING_LINK


def test_it_shows_the_booked_time_in_the_invitee_timezone_after_booking(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), tz="Asia/Tokyo", follow=True)

    assert response.status_code == 200
    assert "You are booked" in response.text
    assert "Tuesday, 8 January 2030, 19:00 \u2013 19:45" in response.text
    assert "Asia/Tokyo" in response.text


def test_it_answers_bad_input_with_a_400_page_and_field_errors(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), name="  ", email="not-an-email")

    assert response.status_code == 400
    assert "Please enter your name." in response.text
    assert "Enter a valid email address." in response.text
    assert 'aria-invalid="true"' in response.text
    assert not Booking.objects.exists()


def test_it_keeps_the_chosen_time_on_a_400_page(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), email="nope")

    assert response.status_code == 400
    assert f'value="{SLOT.isoformat()}" checked' in response.text


def test_it_asks_for_a_time_when_none_was_picked(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), start="")

    assert response.status_code == 400
    assert "Pick a time first." in response.text
    assert not Booking.objects.exists()


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_it_answers_a_start_beyond_the_calendar_of_datetimes_with_a_400_page(
    client, calendar, start
):
    response = post_booking(client, calendar.scheduling_path(), start=start)

    assert response.status_code == 400
    assert "Pick a time from the list." in response.text
    assert not Booking.objects.exists()


@override_settings(THROTTLE_PUBLIC_RATE="2/min")
def test_it_answers_429_past_the_public_rate_like_the_api(client, calendar):
    cache.clear()
    statuses = [
        post_booking(client, calendar.scheduling_path(), start=start).status_code
        for start in ("2030-01-08T10:00:00Z", "2030-01-08T11:00:00Z", "2030-01-08T12:00:00Z")
    ]

    assert statuses == [303, 303, 429]
    assert Booking.objects.count() == 2
    cache.clear()


def test_it_refuses_an_unknown_timezone_in_the_form(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), tz="Mars/Olympus")

    assert response.status_code == 400
    assert not Booking.objects.exists()


def test_it_answers_a_taken_time_with_409_and_fresh_times(client, calendar):
    BookingFactory(calendar=calendar, start=SLOT)

    response = post_booking(client, calendar.scheduling_path(), name="Sam Late")

    assert response.status_code == 409
    assert "That time was just taken" in response.text
    assert times_on_page(response) == [
        "09:00",
        "11:00",
        "12:00",
        "13:00",
        "14:00",
        "15:00",
        "16:00",
    ]
    assert 'value="Sam Late"' in response.text  # what they typed is kept
    assert Booking.objects.count() == 1


def test_it_answers_a_time_that_is_no_slot_start_with_409(client, calendar):
    response = post_booking(client, calendar.scheduling_path(), start="2030-01-08T10:17:00+00:00")

    assert response.status_code == 409
    assert not Booking.objects.exists()


def test_it_asks_for_consent_when_the_calendar_requires_it(client):
    calendar = CalendarFactory(requires_consent=True, consent_text="You may email me about this.")

    response = page(client, calendar)
    refused = post_booking(client, calendar.scheduling_path())
    booked = post_booking(client, calendar.scheduling_path(), consent="on")

    assert "You may email me about this." in response.text
    assert refused.status_code == 400
    assert "Please tick this box to book." in refused.text
    assert booked.status_code == 303
    assert Booking.objects.count() == 1


def test_it_shows_no_consent_box_when_not_required(client, calendar):
    response = page(client, calendar)

    assert 'name="consent"' not in response.text


def test_it_answers_an_unknown_calendar_with_the_product_404(client):
    response = client.get("/book/no-such-calendar/")

    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "onceslot.css" in response.text
    assert "Traceback" not in response.text


def test_it_answers_an_inactive_calendar_with_404(client):
    calendar = CalendarFactory(is_active=False)

    assert page(client, calendar).status_code == 404
    assert client.get(calendar.permanent_path()).status_code == 404
    assert client.get(calendar.embed_path()).status_code == 404
    assert post_booking(client, calendar.scheduling_path()).status_code == 404
    assert not Booking.objects.exists()


def test_it_keeps_the_permanent_link_working_after_a_slug_rename(client, calendar):
    permanent = calendar.permanent_path()
    calendar.slug = "renamed-intro"
    calendar.save()

    old = client.get("/book/intro/")
    response = client.get(permanent)
    booked = post_booking(client, permanent)

    assert old.status_code == 404
    assert response.status_code == 200
    assert "Intro call" in response.text
    assert "/api/public/calendars/renamed-intro/slots/" in response.text
    assert booked.status_code == 303
    assert Booking.objects.get().source == BookingSource.PERMANENT_LINK


def test_it_lets_other_sites_frame_the_embed(client, calendar):
    response = client.get(calendar.embed_path())

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert 'class="booking-page compact"' in response.text


def test_it_does_not_let_other_sites_frame_the_scheduling_page(client, calendar):
    response = page(client, calendar)

    assert response["X-Frame-Options"] == "DENY"


def test_it_books_through_the_embed_and_stays_frameable(client, calendar):
    response = post_booking(client, calendar.embed_path())

    assert response.status_code == 303
    booking = Booking.objects.get()
    assert booking.source == BookingSource.EMBED
    assert response["Location"].endswith("?embed=1")
    confirmation = client.get(response["Location"])
    assert confirmation.status_code == 200
    assert "X-Frame-Options" not in confirmation


def test_it_books_without_a_csrf_token_so_the_embed_works_in_third_party_frames(calendar):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)

    response = post_booking(strict, calendar.embed_path())

    assert response.status_code == 303


def test_it_serves_the_page_with_a_constant_handful_of_queries(
    client, calendar, django_assert_max_num_queries
):
    for start in [SLOT, SLOT.replace(hour=11), SLOT.replace(day=9)]:
        BookingFactory(calendar=calendar, start=start)

    # calendar with owner, hours, overrides, bookings, connected-calendar busy time (issue 15)
    with django_assert_max_num_queries(5):
        cold = page(client, calendar, tz="Europe/Berlin")
    with django_assert_max_num_queries(2):  # calendar with owner, bookings (hours cached)
        warm = page(client, calendar, tz="Europe/Berlin", date="2030-01-09")

    assert cold.status_code == warm.status_code == 200
    assert "Wednesday, 9 January 2030" in warm.text


def test_it_sees_a_calendar_change_at_once(client, calendar):
    page(client, calendar)
    calendar.name = "Renamed call"
    calendar.save()

    renamed = page(client, calendar)
    calendar.is_active = False
    calendar.save()
    deactivated = page(client, calendar)

    assert "Renamed call" in renamed.text
    assert deactivated.status_code == 404


def test_it_shows_a_renamed_calendar_even_when_written_without_save(client, calendar):
    page(client, calendar)
    type(calendar).objects.filter(pk=calendar.pk).update(name="Quietly renamed")

    response = client.get(calendar.permanent_path())

    assert "Quietly renamed" in response.text


def test_it_shows_a_new_booking_at_once(client, calendar):
    page(client, calendar, date="2030-01-08")
    BookingFactory(calendar=calendar, start=SLOT)

    response = page(client, calendar, date="2030-01-08")

    assert "10:00" not in times_on_page(response)


def test_it_opens_a_calendar_without_hours_on_this_month_saying_nothing_is_open(client):
    calendar = CalendarFactory(hours=[], owner=UserFactory(first_name="Ada", last_name="Lo"))

    response = page(client, calendar)

    assert response.status_code == 200
    assert "January 2030" in response.text  # not an empty month in the future
    assert "No times are open for booking right now" in response.text
    assert "Ada Lo" in response.text
    assert free_days_on_page(response) == []


def test_it_names_the_next_open_day_when_this_month_and_the_next_are_empty(client):
    calendar = CalendarFactory(hours=[], booking_window_days=90)
    DateOverrideFactory(calendar=calendar, date=datetime(2030, 3, 12).date())

    response = page(client, calendar)

    assert "January 2030" in response.text
    assert "No times are open until Tuesday, 12 March 2030" in response.text
    assert "month=2030-03&amp;date=2030-03-12" in response.text
    follow = page(client, calendar, month="2030-03", date="2030-03-12")
    assert times_on_page(follow)[0] == "10:00"


def test_it_tells_an_invitee_back_on_the_page_that_they_are_booked(client, calendar):
    url = calendar.scheduling_path()
    response = post_booking(client, url)
    assert response.status_code == 303
    booking = Booking.objects.get()

    back = page(client, calendar, tz="UTC", date="2030-01-08", time=SLOT.isoformat())

    assert back.status_code == 200
    assert "You are booked for Tuesday, 8 January 2030, 10:00" in back.text
    assert f'href="{booking_url(booking)}"' in back.text
    assert "no longer free" not in back.text


def test_it_still_says_a_time_was_taken_to_someone_who_did_not_book_it(client, calendar):
    BookingFactory(calendar=calendar, start=SLOT)

    response = page(client, calendar, tz="UTC", date="2030-01-08", time=SLOT.isoformat())

    assert "That time is no longer free" in response.text
    assert "You are booked" not in response.text


def test_it_ignores_a_booked_cookie_of_another_calendar(client, calendar):
    other = CalendarFactory(slug="other")
    booking = BookingFactory(calendar=other, start=SLOT)
    client.cookies["onceslot_booked"] = booking.token

    response = page(client, calendar)

    assert "You are booked" not in response.text


def timezone_options(response) -> dict[str, str]:
    return dict(
        re.findall(r'<option value="([^"]+)"(?: selected)?>([^<]+)</option>', response.text)
    )


def test_it_lists_each_timezone_with_its_offset_and_local_time(client, calendar):
    # 2030-01-07 08:00 UTC: 17:00 in Tokyo, 03:00 in New York, 13:30 in Kolkata.
    options = timezone_options(page(client, calendar))

    assert options["Asia/Tokyo"] == "Tokyo · UTC+09:00 · 17:00"
    assert options["America/New_York"] == "New York · UTC\u221205:00 · 03:00"
    assert options["Asia/Kolkata"] == "Kolkata · UTC+05:30 · 13:30"
    assert options["America/Argentina/Buenos_Aires"].startswith("Argentina / Buenos Aires · ")
    assert options["UTC"] == "UTC · 08:00"


def test_it_groups_the_timezones_by_region(client, calendar):
    response = page(client, calendar)

    groups = re.findall(r'<optgroup label="([^"]+)">', response.text)
    assert groups == [
        "Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe",
        "Indian", "Pacific",
    ]  # fmt: skip
    europe = response.text.split('<optgroup label="Europe">')[1].split("</optgroup>")[0]
    assert 'value="Europe/Berlin"' in europe and 'value="Asia/Tokyo"' not in europe


def test_it_shows_the_local_times_of_the_timezone_list_as_time_passes(client, calendar):
    with time_machine.travel(datetime(2030, 1, 7, 9, 15, tzinfo=UTC), tick=False):
        options = timezone_options(page(client, calendar))

    assert options["Asia/Tokyo"] == "Tokyo · UTC+09:00 · 18:15"


def test_it_uses_the_chosen_timezone_without_javascript(client, calendar):
    response = page(client, calendar, tz="Asia/Tokyo")

    assert '<option value="Asia/Tokyo" selected>' in response.text
    assert 'name="tz" value="Asia/Tokyo"' in response.text


# --- the page from Django's cache (bookings/answer_cache.py) ------------------------------


def test_it_serves_a_repeat_from_the_cache(client, calendar, django_assert_num_queries):
    first = page(client, calendar, tz="UTC", date="2030-01-08")
    with django_assert_num_queries(1):  # the calendar and its owner; no bookings read
        again = page(client, calendar, tz="UTC", date="2030-01-08")
    assert again.content == first.content


def test_it_shares_the_cached_page_across_campaign_tags(
    client, calendar, django_assert_num_queries
):
    first = page(client, calendar, date="2030-01-08")
    with django_assert_num_queries(1):
        tagged = page(client, calendar, date="2030-01-08", utm_source="newsletter")
    assert tagged.content == first.content


def test_it_drops_a_time_booked_since_the_last_view_at_once(client, calendar):
    assert "10:00" in times_on_page(page(client, calendar, tz="UTC", date="2030-01-08"))
    post_booking(Client(), calendar.scheduling_path())  # another invitee, another browser
    assert "10:00" not in times_on_page(page(client, calendar, tz="UTC", date="2030-01-08"))


def test_it_draws_each_language_apart(client, calendar):
    english = page(client, calendar, date="2030-01-08")
    german = page(client, calendar, date="2030-01-08", lang="de")
    assert '<html lang="en">' in english.text
    assert '<html lang="de">' in german.text


def test_it_draws_each_clock_apart(client, calendar):
    assert "10:00" in times_on_page(page(client, calendar, tz="UTC", date="2030-01-08"))
    twelve = page(client, calendar, tz="UTC", date="2030-01-08", clock="12")
    assert ">10:00\u00a0AM</label>" in twelve.text


def test_it_keeps_the_booked_notice_out_of_the_shared_page(client, calendar):
    response = post_booking(client, calendar.scheduling_path())
    assert response.status_code == 303
    back = page(client, calendar, tz="UTC", date="2030-01-08", time=SLOT.isoformat())
    other = page(Client(), calendar, tz="UTC", date="2030-01-08", time=SLOT.isoformat())
    assert "You are booked" in back.text
    assert "You are booked" not in other.text
    assert "That time is no longer free" in other.text
