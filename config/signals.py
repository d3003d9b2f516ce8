"""One way for every app to tell the apps above it what happened."""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)


def send_on_commit(signal: Signal, *, sender: type, **kwargs) -> None:
    """Send `signal` once the current transaction commits (at once outside one).

    Receivers see only committed rows. A failing receiver is logged, never raised: the
    write it reacts to has already committed, so the caller must not answer with an error.
    """

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error("Receiver %r of %s failed", receiver, sender.__name__, exc_info=result)

    transaction.on_commit(send)
