"""Booking events for apps above (workflows) to react to, without bookings importing them.

Sent after the transaction commits, ids only. Every channel (page, embed, one-time link,
API, admin) goes through the booking services, which are the only senders.
"""

from django.dispatch import Signal

# kwargs: booking_id: int, calendar_id: int, contact_id: int | None, source: str
booking_confirmed = Signal()
# kwargs: booking_id: int, calendar_id: int, contact_id: int | None
booking_cancelled = Signal()
# kwargs: booking_id: int, calendar_id: int, contact_id: int | None
booking_rescheduled = Signal()
# kwargs: booking_id: int, calendar_id: int, contact_id: int | None, status: str
# (Booking.Attendance: "showed" or "no_show"), sent when staff change the mark
booking_status_changed = Signal()
# kwargs: link_id: int, calendar_id: int, contact_id: int | None; once per link, by the
# expiry sweep (services/link_expiry.py)
one_time_link_expired_unused = Signal()
one_time_link_renewal_requested = Signal()  # sent with link_id, calendar_id, contact_id
