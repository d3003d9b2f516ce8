"""Attendance: staff mark a booking showed or no-show (admin list action and booking page,
POST /api/bookings/<id>/status/). Kept apart from the booking writes in bookings.py: it
takes no slot, so it needs only the booking's own row lock.

INTERFACE:

    class AttendanceRefused(BookingError)     # a cancelled or not yet started booking
    def booking_attendance_mark(*, booking: Booking, attendance: str,
                                now: datetime | None = None) -> Booking
        Sends `booking_status_changed` after commit when the mark changes; marking the
        same again changes nothing and sends nothing (a double click).
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bookings import signals
from bookings.models import Booking
from bookings.services.bookings import BookingError
from config.signals import send_on_commit


class AttendanceRefused(BookingError):
    pass


def booking_attendance_mark(
    *, booking: Booking, attendance: str, now: datetime | None = None
) -> Booking:
    if attendance not in Booking.Attendance.values:
        choices = ", ".join(Booking.Attendance.values)
        raise ValidationError({"status": f"Choose one of: {choices}."})
    now = now or timezone.now()
    with transaction.atomic():
        locked = Booking.objects.select_for_update().get(pk=booking.pk)
        if locked.status != Booking.Status.CONFIRMED:
            raise AttendanceRefused("A cancelled booking cannot be marked showed or no-show.")
        if locked.start > now:
            raise AttendanceRefused("Attendance can be marked once the appointment has started.")
        if locked.attendance == attendance:
            return locked
        locked.attendance = attendance
        locked.attendance_marked_at = now
        locked.save(update_fields=["attendance", "attendance_marked_at"])
        send_on_commit(
            signals.booking_status_changed,
            sender=Booking,
            booking_id=locked.pk,
            calendar_id=locked.calendar_id,
            contact_id=locked.contact_id,
            status=attendance,
        )
    return locked
