"""Booking writes: create, cancel, reschedule. Every channel goes through these.

INTERFACE (fixed; pages, API, admin, one-time links and workflows depend on it):

    class BookingError(Exception)                 # base of refusals a user can act on
    class SlotUnavailable(BookingError)           # the time is not (or no longer) free -> 409

    def booking_create(*, calendar: Calendar, start: datetime, name: str, email: str,
                       timezone: str, source: str, phone: str = "", notes: str = "",
                       consent: bool = False, created_by: User | None = None,
                       now: datetime | None = None) -> Booking
        Opens its own atomic block (joins the caller's transaction if any), locks the
        calendar row (select_for_update), re-checks `start` with the engine, assigns a seat,
        full_clean()s (ValidationError with field errors for bad input), saves, upserts the
        contact, records outbox emails, and sends `booking_confirmed` after commit.

    def booking_cancel(*, booking: Booking, reason: str = "", by: User | None = None) -> Booking
    def booking_reschedule(*, booking: Booking, start: datetime,
                           now: datetime | None = None) -> Booking
"""


class BookingError(Exception):
    """A refusal the invitee can act on (pick another time)."""


class SlotUnavailable(BookingError):
    pass
