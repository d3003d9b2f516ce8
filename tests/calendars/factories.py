from datetime import time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from calendars.models import (
    BusyInterval,
    Calendar,
    ConnectedCalendar,
    Connection,
    DateOverride,
    WeeklyInterval,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Alex"
    last_name = "Owner"
    is_staff = True

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pw")
        if create:
            obj.save(update_fields=["password"])


class CalendarFactory(factory.django.DjangoModelFactory):
    """A calendar open Monday to Friday 09:00-17:00 (pass `hours=[]` for none)."""

    class Meta:
        model = Calendar
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Consult {n}")
    slug = factory.Sequence(lambda n: f"consult-{n}")
    timezone = "UTC"
    duration_minutes = 30
    booking_window_days = 60

    @factory.post_generation
    def hours(obj, create, extracted, **kwargs):
        if not create:
            return
        intervals = (
            extracted
            if extracted is not None
            else [(weekday, time(9), time(17)) for weekday in range(5)]
        )
        WeeklyInterval.objects.bulk_create(
            WeeklyInterval(calendar=obj, weekday=w, start=s, end=e) for w, s, e in intervals
        )


class WeeklyIntervalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeeklyInterval

    calendar = factory.SubFactory(CalendarFactory, hours=[])
    weekday = 0
    start = time(9)
    end = time(17)


class DateOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DateOverride

    calendar = factory.SubFactory(CalendarFactory)
    start = time(10)
    end = time(12)


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A connection row only (no server behind it): for busy-time setups."""

    class Meta:
        model = Connection

    owner = factory.SubFactory(UserFactory)
    kind = Connection.Kind.ICS
    url = "https://calendar.example.com/basic.ics"
    status = Connection.Status.OK


class ConnectedCalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectedCalendar

    connection = factory.SubFactory(ConnectionFactory)
    owner = factory.LazyAttribute(lambda c: c.connection.owner)
    url = factory.Sequence(lambda n: f"https://calendar.example.com/{n}/")
    name = "Busy"


class BusyIntervalFactory(factory.django.DjangoModelFactory):
    """Stored external busy time, as the sync writes it."""

    class Meta:
        model = BusyInterval

    calendar = factory.SubFactory(ConnectedCalendarFactory)
    owner = factory.LazyAttribute(lambda b: b.calendar.owner)
    start = factory.LazyFunction(timezone.now)
    end = factory.LazyAttribute(lambda b: b.start + timedelta(hours=1))
