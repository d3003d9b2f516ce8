"""Bench data, written with the ORM in bulk: no availability checks, no emails."""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SLOTS_CALENDAR = "bench-slots"
SLOTS_TIMEZONE = "Europe/Berlin"
SLOTS_BOOKINGS = 2_000
BOOKING_CALENDARS = [f"bench-book-{i}" for i in range(8)]
LINK_CALENDARS = [f"bench-link-{i}" for i in range(8)]
CONTENTION_CALENDAR = "bench-contention"
WORKFLOW_CALENDAR = "bench-workflow"

OPEN_FROM = time(6, 0)
OPEN_UNTIL = time(22, 0)
SLOT_MINUTES = 15


@dataclass(frozen=True)
class Seeded:
    owner_id: int
    slots_calendar: str
    slots_timezone: str
    booking_calendars: list[str]
    link_calendars: list[str]
    contention_calendar: str
    workflow_calendar: str


def _calendar(owner, slug: str, tz: str, *, min_notice: int = 0, window: int = 120):
    from calendars.models import Calendar, WeeklyInterval

    calendar = Calendar.objects.create(
        owner=owner,
        name=slug.replace("-", " ").title(),
        slug=slug,
        timezone=tz,
        duration_minutes=SLOT_MINUTES,
        slot_interval_minutes=SLOT_MINUTES,
        min_notice_minutes=min_notice,
        booking_window_days=window,
    )
    WeeklyInterval.objects.bulk_create(
        WeeklyInterval(calendar=calendar, weekday=day, start=OPEN_FROM, end=OPEN_UNTIL)
        for day in range(7)
    )
    return calendar


def local_grid(tz: str, first_day: date, days: int) -> list[datetime]:
    """Every slot start of the bench calendars' hours (15 minutes, 06:00-22:00 local, every
    day), as aware datetimes in the calendar's timezone."""
    zone = ZoneInfo(tz)
    starts = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        at = datetime.combine(day, OPEN_FROM, tzinfo=zone)
        end = datetime.combine(day, OPEN_UNTIL, tzinfo=zone)
        while at + timedelta(minutes=SLOT_MINUTES) <= end:
            starts.append(at)
            at += timedelta(minutes=SLOT_MINUTES)
    return starts


def seed(*, now: datetime, rng: random.Random) -> Seeded:
    from django.contrib.auth import get_user_model

    from bookings.models import Booking, BookingSource

    owner = get_user_model().objects.create_user(
        username="bench-owner",
        email="owner@bench.example",
        password=None,
        is_staff=True,
        first_name="Bench",
        last_name="Owner",
    )
    slots = _calendar(owner, SLOTS_CALENDAR, SLOTS_TIMEZONE, min_notice=60)
    for slug in [*BOOKING_CALENDARS, *LINK_CALENDARS, CONTENTION_CALENDAR, WORKFLOW_CALENDAR]:
        _calendar(owner, slug, "UTC")

    # 2,000 confirmed bookings on distinct slots over the next 90 days, from tomorrow on.
    tomorrow = now.astimezone(ZoneInfo(SLOTS_TIMEZONE)).date() + timedelta(days=1)
    starts = rng.sample(local_grid(SLOTS_TIMEZONE, tomorrow, 90), SLOTS_BOOKINGS)
    Booking.objects.bulk_create(
        Booking(
            calendar=slots,
            start=start,
            end=start + timedelta(minutes=SLOT_MINUTES),
            source=BookingSource.API,
            invitee_name=f"Seeded {n}",
            invitee_email=f"seeded{n}@bench.example",
            timezone=SLOTS_TIMEZONE,
        )
        for n, start in enumerate(sorted(starts))
    )
    return Seeded(
        owner_id=owner.pk,
        slots_calendar=SLOTS_CALENDAR,
        slots_timezone=SLOTS_TIMEZONE,
        booking_calendars=list(BOOKING_CALENDARS),
        link_calendars=list(LINK_CALENDARS),
        contention_calendar=CONTENTION_CALENDAR,
        workflow_calendar=WORKFLOW_CALENDAR,
    )
