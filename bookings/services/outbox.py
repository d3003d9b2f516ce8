"""The email outbox: every message is a row first, then delivered at most once.

INTERFACE (fixed; booking notifications and the workflow Send Email action depend on it):

    def outbox_enqueue(*, key: str, to: str, subject: str, body_text: str,
                       body_html: str = "", ics: str = "", ics_method: str = "",
                       deliver: bool = True) -> OutboxMessage
        Creates the row for `key` (or returns the existing one: one event, one row) inside
        the caller's transaction; with deliver=True schedules the delivery task on commit.

    def outbox_deliver(*, message_id: int) -> bool
        Claims the row with a conditional UPDATE (pending -> sending), sends through
        Django's mail API, marks it sent. False when another run already has it or it was
        sent. Raises OutboxTransientError when the mail server is unreachable (the row goes
        back to pending with the error, for the caller's retry).
"""


class OutboxTransientError(Exception):
    """The mail server could not be reached; try again later."""
