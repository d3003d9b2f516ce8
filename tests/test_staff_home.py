"""The admin's index page: the signed-in staff user's coming bookings, one-time links used
lately, failed workflow steps with Retry, and shortcuts; nobody else's."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Booking
from tests.bookings.factories import BookingFactory, OneTimeLinkFactory
from tests.calendars.factories import CalendarFactory, ConnectionFactory, UserFactory
from tests.workflows.factories import EnrollmentFactory, StepRunFactory, WorkflowFactory
from workflows.models import StepRun

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
HOME = "/admin/"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff():
    return UserFactory(username="robin")


@pytest.fixture
def other():
    return UserFactory(username="alex")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_it_shows_todays_and_the_next_days_bookings_of_own_calendars(staff_client, staff, other):
    mine = CalendarFactory(owner=staff, name="Roof consult", timezone="Europe/Berlin")
    theirs = CalendarFactory(owner=other, name="Their consult")
    today = BookingFactory(calendar=mine, start=NOW + timedelta(hours=2), invitee_name="Ada Today")
    later = BookingFactory(calendar=mine, start=NOW + timedelta(days=3), invitee_name="Bo Later")
    BookingFactory(calendar=mine, start=NOW + timedelta(days=20), invitee_name="Far Future")
    BookingFactory(calendar=theirs, start=NOW + timedelta(hours=3), invitee_name="Not Mine")
    BookingFactory(
        calendar=mine, start=NOW + timedelta(hours=4), invitee_name="Was Cancelled",
        status=Booking.Status.CANCELLED,
    )  # fmt: skip

    html = staff_client.get(HOME).content.decode()

    assert "Bookings today and the next 6 days" in html
    assert "Ada Today" in html and "Bo Later" in html
    assert "Mon 07 Jan, 11:00 CET" in html  # the calendar's time, with its zone
    assert reverse("admin:bookings_booking_change", args=[today.pk]) in html
    assert reverse("admin:bookings_booking_change", args=[later.pk]) in html
    for absent in ("Far Future", "Not Mine", "Was Cancelled"):
        assert absent not in html


def test_it_shows_one_time_links_used_lately(staff_client, staff, other):
    mine = CalendarFactory(owner=staff)
    OneTimeLinkFactory(calendar=mine, label="For Jamie", used_at=NOW - timedelta(days=1))
    OneTimeLinkFactory(calendar=mine, label="Long ago", used_at=NOW - timedelta(days=30))
    OneTimeLinkFactory(calendar=CalendarFactory(owner=other), label="Theirs", used_at=NOW)

    html = staff_client.get(HOME).content.decode()

    assert "For Jamie" in html
    assert "Long ago" not in html and "Theirs" not in html


def test_it_shows_one_time_links_opened_lately_with_their_opens_and_uses(staff_client, staff):
    mine = CalendarFactory(owner=staff, timezone="Europe/Berlin")
    OneTimeLinkFactory(
        calendar=mine, label="Opened only", max_uses=3, uses=1,
        first_opened_at=NOW - timedelta(hours=3), open_count=4,
    )  # fmt: skip
    OneTimeLinkFactory(
        calendar=mine, label="Opened long ago", first_opened_at=NOW - timedelta(days=30)
    )
    OneTimeLinkFactory(calendar=mine, label="Never opened")

    html = staff_client.get(HOME).content.decode()

    assert "One-time links opened or used lately" in html
    assert "Opened only" in html
    assert "Mon 07 Jan, 06:00 CET" in html  # first open, in the calendar's zone
    assert "<td>4</td>" in html and "1 of 3" in html
    assert "Opened long ago" not in html and "Never opened" not in html


def test_it_lists_failed_steps_with_a_retry_that_queues_them_again(staff_client, staff, other):
    mine = StepRunFactory(
        enrollment=EnrollmentFactory(workflow=WorkflowFactory(created_by=staff, name="Onboard")),
        status=StepRun.Status.FAILED, error="SMTP said no", attempts=3,
    )  # fmt: skip
    StepRunFactory(
        enrollment=EnrollmentFactory(workflow=WorkflowFactory(created_by=other, name="Theirs")),
        status=StepRun.Status.FAILED, error="Their error",
    )  # fmt: skip

    html = staff_client.get(HOME).content.decode()
    retry_url = reverse(
        "admin:workflows_workflow_retry", args=[mine.enrollment.workflow_id, mine.pk]
    )
    assert "SMTP said no" in html and f'action="{retry_url}"' in html
    assert "Their error" not in html

    response = staff_client.post(retry_url)

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == StepRun.Status.QUEUED


def test_it_offers_shortcuts_to_each_own_calendars_share_panel(staff_client, staff, other):
    mine = CalendarFactory(owner=staff, name="Roof consult")
    theirs = CalendarFactory(owner=other, name="Their consult")

    html = staff_client.get(HOME).content.decode()

    assert reverse("admin:calendars_calendar_add") in html
    assert reverse("admin:calendar-share", kwargs={"calendar_id": mine.pk}) in html
    assert reverse("admin:calendar-share", kwargs={"calendar_id": theirs.pk}) not in html


def test_it_lists_the_users_connections_in_error_and_nobody_elses(staff_client, staff, other):
    ConnectionFactory(
        owner=staff, url="https://dav.example.com/mine/", status="error", error="401 from server"
    )
    ConnectionFactory(owner=staff, url="https://dav.example.com/fine/", status="ok")
    ConnectionFactory(
        owner=other, url="https://dav.example.com/theirs/", status="error", error="Timed out"
    )

    html = staff_client.get(HOME).content.decode()

    assert "Calendar connections in error" in html
    assert "401 from server" in html
    assert "Timed out" not in html


def test_it_says_so_when_there_is_nothing_to_show(staff_client):
    html = staff_client.get(HOME).content.decode()

    assert "No bookings in the coming days." in html
    assert "No failed steps." in html
    assert "No calendars yet" in html
