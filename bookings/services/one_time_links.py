"""One-time links: generate, look up by token, revoke, and book through (consume once).

INTERFACE (fixed; Share panel, API, CLI and the workflow action depend on it):

    def one_time_link_generate(*, calendar: Calendar, created_by: User | None = None,
                               created_by_process: str = "", contact: Contact | None = None,
                               label: str = "", expires_at: datetime | None = None,
                               idempotency_key: str | None = None) -> OneTimeLink
        With an idempotency_key already used, returns that existing link (a retried
        workflow step never makes two).

    def one_time_link_url(*, link: OneTimeLink) -> str        # SITE_URL + /l/<token>/
    def one_time_link_revoke(*, link: OneTimeLink) -> OneTimeLink
    def one_time_link_book(*, link: OneTimeLink, start, name, email, timezone, phone="",
                           notes="", consent=False) -> Booking
        Raises LinkUnavailable (-> 410) when the link is used, expired or revoked.
"""

from bookings.services.bookings import BookingError


class LinkUnavailable(BookingError):
    """The link was used, expired or revoked: answer 410, never book."""
