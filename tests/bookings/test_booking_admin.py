"""Booking admin: list, filters, search, cancel action, Book on behalf, week view, outbox."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Booking, BookingSource, OutboxMessage
from bookings.notifications import booking_notify
from bookings.services.outbox import outbox_enqueue
from tests.bookings.factories import BookingFactory
from tests.calendars.factories import CalendarFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)  # a Wednesday
SLOT = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)  # next Monday 10:00 (calendars open 9-17)
LIST_URL = "/admin/bookings/booking/"
BOOK_URL = "/admin/bookings/booking/book/"
OUTBOX_URL = "/admin/bookings/outboxmessage/"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar():
    return CalendarFactory(name="Roof consult")


@pytest.fixture
def other_calendar():
    return CalendarFactory(name="Someone else's")


@pytest.fixture
def owner_client(client, calendar):
    client.force_login(calendar.owner)
    return client


def week_url(calendar) -> str:
    return reverse("admin:bookings_booking_week_calendar", args=[calendar.pk])


def book_form(calendar, **overrides) -> dict:
    data = {
        "calendar": calendar.pk,
        "date": "2027-03-15",
        "time": "10:00",
        "name": "Jamie Rivera",
        "email": "jamie@example.com",
        "phone": "",
        "timezone": "Europe/Berlin",
        "notes": "",
    }
    data.update(overrides)
    return data


# The list


def test_it_lists_only_the_bookings_of_own_calendars(owner_client, calendar, other_calendar):
    BookingFactory(calendar=calendar, invitee_name="Mine Person")
    BookingFactory(calendar=other_calendar, invitee_name="Their Person")

    response = owner_client.get(LIST_URL)

    assert response.status_code == 200
    assert "Mine Person" in response.content.decode()
    assert "Their Person" not in response.content.decode()


def test_it_lists_every_booking_for_a_superuser(client, calendar, other_calendar):
    BookingFactory(calendar=calendar, invitee_name="Mine Person")
    BookingFactory(calendar=other_calendar, invitee_name="Their Person")
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(LIST_URL)

    assert "Mine Person" in response.content.decode()
    assert "Their Person" in response.content.decode()


def test_it_offers_only_own_calendars_in_the_filter(owner_client, calendar, other_calendar):
    second = CalendarFactory(owner=calendar.owner)
    for each in (calendar, second, other_calendar):
        BookingFactory(calendar=each)

    response = owner_client.get(LIST_URL)

    html = response.content.decode()
    assert f"calendar__id__exact={calendar.pk}" in html
    assert f"calendar__id__exact={second.pk}" in html
    assert f"calendar__id__exact={other_calendar.pk}" not in html


def test_it_filters_by_status(owner_client, calendar):
    BookingFactory(calendar=calendar, invitee_name="Still On")
    BookingFactory(calendar=calendar, invitee_name="Called Off", status="cancelled")

    response = owner_client.get(LIST_URL, {"status__exact": "cancelled"})

    assert response.status_code == 200
    assert "Called Off" in response.content.decode()
    assert "Still On" not in response.content.decode()


def test_it_filters_by_date(owner_client, calendar):
    BookingFactory(calendar=calendar, start=SLOT, invitee_name="March Person")
    BookingFactory(calendar=calendar, start=SLOT + timedelta(days=30), invitee_name="April Person")

    response = owner_client.get(LIST_URL, {"start__year": 2027, "start__month": 3})

    assert response.status_code == 200
    assert "March Person" in response.content.decode()
    assert "April Person" not in response.content.decode()


def test_it_searches_by_invitee_email(owner_client, calendar):
    BookingFactory(calendar=calendar, invitee_name="Jamie", invitee_email="jamie@example.com")
    BookingFactory(
        calendar=calendar,
        start=SLOT,
        invitee_name="Robin",
        invitee_email="robin@example.com",
    )

    response = owner_client.get(LIST_URL, {"q": "jamie@"})

    assert "Jamie" in response.content.decode()
    assert "Robin" not in response.content.decode()


def test_it_shows_start_in_the_calendar_timezone(client):
    calendar = CalendarFactory(timezone="Asia/Tokyo")
    BookingFactory(calendar=calendar, start=SLOT)
    client.force_login(calendar.owner)

    response = client.get(LIST_URL)

    assert "2027-03-15 19:00 (Asia/Tokyo)" in response.content.decode()


def test_it_hides_another_owners_booking_page(owner_client, other_calendar):
    booking = BookingFactory(calendar=other_calendar, invitee_name="Their Person")

    response = owner_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 302
    assert "Their Person" not in response.content.decode()


def test_it_shows_a_booking_read_only_with_its_emails(owner_client, calendar):
    booking = BookingFactory(calendar=calendar, invitee_name="Jamie Rivera")
    for key, subject in [
        (f"booking:{booking.locator}:confirmed:invitee", "Confirmed: Roof consult"),
        # A row recorded when keys named the booking's id.
        (f"booking:{booking.pk}:cancelled:invitee", "Cancelled: Roof consult"),
        # Another booking's emails stay off this page.
        ("booking:someoneelse1:confirmed:invitee", "Confirmed: someone else"),
    ]:
        outbox_enqueue(key=key, to="a@example.com", subject=subject, body_text="x", deliver=False)

    response = owner_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirmed: Roof consult" in html
    assert "Cancelled: Roof consult" in html
    assert "someone else" not in html
    assert 'name="invitee_name"' not in html  # no editable fields
    assert 'name="_save"' not in html


def test_it_keeps_non_staff_out(client, calendar):
    client.force_login(UserFactory(is_staff=False))

    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# Cancel action


def test_it_cancels_the_selected_bookings(owner_client, calendar, other_calendar):
    mine = [BookingFactory(calendar=calendar, start=SLOT + timedelta(hours=i)) for i in range(2)]
    theirs = BookingFactory(calendar=other_calendar)

    response = owner_client.post(
        LIST_URL,
        {
            "action": "cancel_selected",
            "confirm": "yes",
            "_selected_action": [b.pk for b in [*mine, theirs]],
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Cancelled 2 bookings." in response.content.decode()
    for booking in mine:
        booking.refresh_from_db()
        assert booking.status == Booking.Status.CANCELLED
        assert booking.cancel_reason == "Cancelled by staff"
    theirs.refresh_from_db()
    assert theirs.status == Booking.Status.CONFIRMED
    assert OutboxMessage.objects.filter(key__contains=":cancelled:").count() == 4


def test_it_counts_already_cancelled_bookings_apart(owner_client, calendar):
    done = BookingFactory(calendar=calendar, status="cancelled")

    response = owner_client.post(
        LIST_URL,
        {"action": "cancel_selected", "confirm": "yes", "_selected_action": [done.pk]},
        follow=True,
    )

    assert "Cancelled 0 bookings. 1 already cancelled" in response.content.decode()
    assert OutboxMessage.objects.count() == 0


# Book on behalf


def test_it_sends_add_to_book_on_behalf(owner_client, calendar):
    response = owner_client.get(f"{LIST_URL}add/?calendar={calendar.pk}")

    assert response.status_code == 302
    assert response["Location"] == f"{BOOK_URL}?calendar={calendar.pk}"


def test_it_shows_the_book_form_with_own_calendars_only(owner_client, calendar, other_calendar):
    response = owner_client.get(BOOK_URL, {"calendar": calendar.pk})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Roof consult" in html
    assert "Someone else&#x27;s" not in html


def test_it_books_on_behalf_through_the_service(owner_client, calendar):
    response = owner_client.post(BOOK_URL, book_form(calendar))

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bookings_booking_change", args=[booking.pk])
    assert booking.start == SLOT
    assert booking.source == BookingSource.STAFF
    assert booking.created_by == calendar.owner
    assert booking.timezone == "Europe/Berlin"
    assert OutboxMessage.objects.filter(key=f"booking:{booking.locator}:confirmed:invitee").exists()


def test_it_reads_the_time_in_the_calendar_timezone(client):
    calendar = CalendarFactory(timezone="America/New_York")
    client.force_login(calendar.owner)

    client.post(BOOK_URL, book_form(calendar, timezone=""))

    booking = Booking.objects.get()
    assert booking.start == datetime(2027, 3, 15, 14, 0, tzinfo=UTC)  # 10:00 EDT
    assert booking.timezone == "America/New_York"


def test_it_says_the_time_is_taken(owner_client, calendar):
    BookingFactory(calendar=calendar, start=SLOT)

    response = owner_client.post(BOOK_URL, book_form(calendar))

    assert response.status_code == 200
    assert "That time is not free" in response.content.decode()
    assert Booking.objects.count() == 1


def test_it_says_the_time_is_outside_the_hours(owner_client, calendar):
    response = owner_client.post(BOOK_URL, book_form(calendar, time="20:00"))

    assert response.status_code == 200
    assert "That time is not free" in response.content.decode()
    assert Booking.objects.count() == 0


def test_it_shows_field_errors_for_bad_input(owner_client, calendar):
    response = owner_client.post(BOOK_URL, book_form(calendar, email="nope", date="someday"))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"email", "date"}
    assert Booking.objects.count() == 0


def test_it_asks_for_consent_when_the_calendar_does(client):
    calendar = CalendarFactory(requires_consent=True)
    client.force_login(calendar.owner)

    response = client.post(BOOK_URL, book_form(calendar))

    assert response.status_code == 200
    assert "consent" in response.context["form"].errors
    assert Booking.objects.count() == 0


def test_it_refuses_to_book_on_another_owners_calendar(owner_client, other_calendar):
    response = owner_client.post(BOOK_URL, book_form(other_calendar))

    assert response.status_code == 200
    assert "calendar" in response.context["form"].errors
    assert Booking.objects.count() == 0


# Week view


def test_it_shows_the_week_in_the_calendar_timezone(client):
    calendar = CalendarFactory(timezone="Asia/Tokyo")
    BookingFactory(calendar=calendar, start=SLOT, invitee_name="Jamie Rivera")
    client.force_login(calendar.owner)

    response = client.get(week_url(calendar), {"week": "2027-03-17"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Jamie Rivera" in html
    assert "19:00&ndash;19:30" in html  # 10:00 UTC is 19:00 in Tokyo
    assert "?week=2027-03-08" in html  # previous Monday
    assert "?week=2027-03-22" in html  # next Monday
    assert "Mon 15 Mar" in html


def test_it_places_a_booking_on_its_local_day(client):
    calendar = CalendarFactory(timezone="Pacific/Auckland")
    # Sunday 21:00 UTC is already Monday 10:00 in Auckland: this week, not the one before.
    BookingFactory(
        calendar=calendar, start=datetime(2027, 3, 14, 21, 0, tzinfo=UTC), invitee_name="Kiri"
    )
    client.force_login(calendar.owner)

    response = client.get(week_url(calendar), {"week": "2027-03-15"})

    [monday] = [c for c in response.context["columns"] if c["day"].isoformat() == "2027-03-15"]
    assert [item["booking"].invitee_name for item in monday["bookings"]] == ["Kiri"]


def test_it_leaves_other_weeks_and_cancelled_bookings_out(owner_client, calendar):
    BookingFactory(calendar=calendar, start=SLOT + timedelta(days=7), invitee_name="Next Week")
    BookingFactory(calendar=calendar, start=SLOT, invitee_name="Called Off", status="cancelled")

    response = owner_client.get(week_url(calendar), {"week": "2027-03-15"})

    assert "Next Week" not in response.content.decode()
    assert "Called Off" not in response.content.decode()


@pytest.mark.parametrize("week", ["2027-13-45", "9999-12-31", "0001-01-01"])
def test_it_shows_this_week_for_a_malformed_week(owner_client, calendar, week):
    response = owner_client.get(week_url(calendar), {"week": week})

    assert response.status_code == 200
    assert response.context["monday"].isoformat() == "2027-03-08"


def test_it_hides_another_owners_week(owner_client, other_calendar):
    response = owner_client.get(week_url(other_calendar))

    assert response.status_code == 404


def test_it_opens_the_first_own_calendar_from_the_week_link(owner_client, calendar):
    response = owner_client.get(reverse("admin:bookings_booking_week"))

    assert response.status_code == 302
    assert response["Location"] == week_url(calendar)


# Outbox


@pytest.fixture
def failed_message():
    message = outbox_enqueue(
        key="test:failed", to="jamie@example.com", subject="Hi", body_text="x", deliver=False
    )
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.FAILED, attempts=8, last_error="SMTPDataError: 550 no"
    )
    return message


def test_it_shows_the_outbox_to_a_superuser(client, failed_message):
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(OUTBOX_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "SMTPDataError: 550 no" in html
    assert "failed" in html


def test_it_previews_a_booking_email_rendered_on_demand(client, calendar):
    booking = BookingFactory(calendar=calendar, invitee_name="Jamie Rivera")
    booking_notify(booking=booking, event="confirmed")
    message = OutboxMessage.objects.get(key__endswith=":invitee")
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(reverse("admin:bookings_outboxmessage_change", args=[message.pk]))

    assert response.status_code == 200
    assert f"/b/{booking.token}/" in response.content.decode()
    message.refresh_from_db()
    assert (message.body_text, message.body_html, message.ics) == ("", "", "")


@pytest.mark.parametrize("recipient", ["invitee", "owner"])
def test_it_previews_an_email_with_markup_in_it_as_text(client, calendar, recipient):
    calendar.name = "<b id=cal>Intro</b>"
    calendar.save()
    booking = BookingFactory(
        calendar=calendar,
        invitee_name="<img src=x onerror=alert(1)>",
        notes="<script>alert(2)</script>",
    )
    booking_notify(booking=booking, event="confirmed")
    message = OutboxMessage.objects.get(key__endswith=f":{recipient}")
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(reverse("admin:bookings_outboxmessage_change", args=[message.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<img src=x" not in html
    assert "<script>alert" not in html
    assert "<b id=cal>" not in html
    # Both parts are there, as text: the text part once escaped, the HTML part's own
    # escaping escaped again (its source).
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in html


def test_it_keeps_staff_out_of_the_outbox(owner_client, failed_message):
    response = owner_client.get(OUTBOX_URL)

    assert response.status_code == 403


def test_it_retries_sending_from_the_outbox(
    client, failed_message, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(is_superuser=True))

    with (
        mock.patch("bookings.tasks.deliver_outbox_message.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            OUTBOX_URL,
            {"action": "retry_sending", "_selected_action": [failed_message.pk]},
            follow=True,
        )

    assert "Queued 1 message for sending again." in response.content.decode()
    failed_message.refresh_from_db()
    assert failed_message.status == OutboxMessage.Status.PENDING
    assert failed_message.attempts == 0
    delay.assert_called_once_with(failed_message.pk)


# ?start__year=9999&start__month=12 made Django compute a range ending in year 10000, and a
# 20-digit year overflowed a C long: 500s. Now the admin's usual answer to a bad filter.
@pytest.mark.parametrize(
    "query",
    [
        "start__year=9999&start__month=12&start__day=31",
        "start__year=9999&start__month=12",
        "start__year=9999",
        "start__year=99999999999999999999",
    ],
)
def test_it_redirects_an_out_of_range_date_drill_down_like_a_bad_filter(
    owner_client, calendar, query
):
    BookingFactory(calendar=calendar)

    response = owner_client.get(f"{LIST_URL}?{query}")

    assert response.status_code == 302
    assert response["Location"] == f"{LIST_URL}?e=1"


def test_it_redirects_an_out_of_range_date_drill_down_in_the_outbox(client, failed_message):
    client.force_login(UserFactory(is_superuser=True))

    response = client.get(f"{OUTBOX_URL}?created_at__year=99999999999999999999")

    assert response.status_code == 302
    assert response["Location"] == f"{OUTBOX_URL}?e=1"


def test_it_asks_to_confirm_before_cancelling(owner_client, calendar):
    booking = BookingFactory(calendar=calendar, start=SLOT)

    response = owner_client.post(
        LIST_URL, {"action": "cancel_selected", "_selected_action": [booking.pk]}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Cancel these bookings?" in html
    assert 'name="confirm" value="yes"' in html
    assert f'name="_selected_action" value="{booking.pk}"' in html
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert OutboxMessage.objects.count() == 0
