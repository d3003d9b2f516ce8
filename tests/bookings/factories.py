from datetime import timedelta

import factory
from django.utils import timezone

from bookings.models import Booking, BookingSource, OneTimeLink
from tests.calendars.factories import CalendarFactory


class BookingFactory(factory.django.DjangoModelFactory):
    """A confirmed booking written directly (no availability check): for busy-time setups."""

    class Meta:
        model = Booking

    calendar = factory.SubFactory(CalendarFactory)
    start = factory.LazyFunction(
        lambda: (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    )
    end = factory.LazyAttribute(lambda b: b.start + timedelta(minutes=b.calendar.duration_minutes))
    source = BookingSource.API
    invitee_name = "Jamie Invitee"
    invitee_email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    timezone = "UTC"


class OneTimeLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OneTimeLink

    calendar = factory.SubFactory(CalendarFactory)
