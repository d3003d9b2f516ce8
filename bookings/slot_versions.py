"""Every write of a booking that can change free time (its times, seat, status, calendar, or
the booking's removal) moves its calendar's bookings_version on, in the same transaction,
so the cached public answers (bookings/answer_cache.py) are not served once it commits.

Receivers rather than calls in the services: the admin, deletes that cascade and the test
factories write bookings too. Only the writes that matter take the calendar's row: the
others (attendance marks, the calendar write-back's fields) lock the booking alone and must
not then wait on the calendar, which the booking services lock first."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bookings.models import Booking
from calendars.models import Calendar

_FREE_TIME_FIELDS = frozenset({"start", "end", "seat", "status", "calendar", "calendar_id"})


@receiver(post_save, sender=Booking)
def booking_saved(sender, instance: Booking, update_fields=None, **kwargs) -> None:
    if update_fields is None or _FREE_TIME_FIELDS.intersection(update_fields):
        Calendar.bookings_changed(instance.calendar_id)


@receiver(post_delete, sender=Booking)
def booking_deleted(sender, instance: Booking, **kwargs) -> None:
    Calendar.bookings_changed(instance.calendar_id)
