"""Claims with a lease (workflow steps, outbox rows): when a lease ends, and the claims a
worker process holds right now, handed back if it stops before finishing them.

The design (who claims what, how sweeps find lost work) is in docs/architecture.md,
"Claims, leases and recovery".
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

logger = logging.getLogger(__name__)


def lease_end(*, now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


# Claims this process is working on: {key: release}. Worker threads add and remove theirs;
# the worker's shutdown hands back whatever is still held (a cold shutdown that did not
# wait for its tasks), so another worker takes it at once instead of when the lease ends.
_held: dict[object, Callable[[], None]] = {}
_held_lock = threading.Lock()


@contextmanager
def holding(key: object, release: Callable[[], None]) -> Iterator[None]:
    """While the block runs, `release` (a conditional UPDATE that gives the claim back) is
    what a stopping worker calls for `key` (the row and its claim's token: the same row may
    be claimed again in this process once a stalled claim's lease ended)."""
    with _held_lock:
        _held[key] = release
    try:
        yield
    finally:
        with _held_lock:
            _held.pop(key, None)


def release_held() -> int:
    """Give back every claim still held (the worker is stopping). Returns how many."""
    with _held_lock:
        releases = list(_held.values())
        _held.clear()
    for release in releases:
        try:
            release()
        except Exception:
            # The lease still ends on its own; the others must be given back regardless.
            logger.exception("could not release a claim at shutdown")
    return len(releases)
