"""Coalesce many small after-commit sends into a few: one broker message for many commits.

Publishing a Celery task costs far more than the work a web request does around it (kombu
builds its message, headers and a Redis client each time; `make bench` measured about
0.9 ms of CPU per publish inside a busy gunicorn worker, a quarter of a whole booking).
A request that only needs to say "deliver outbox rows 41 and 42" hands those ids to a
Coalescer instead; a background thread of the process sends everything submitted within
a short window (or as soon as `max_items` are waiting) as ONE call of `send`, e.g. one
task message for the emails of eight bookings.

What it does not change: callers still submit from `transaction.on_commit`, so nothing is
sent for a transaction that rolled back, and only ids travel. What it costs: up to
`window` seconds of extra latency, and ids that wait in memory are lost if the process is
killed in that window (the same loss as a broker that is down at commit): whatever
consumes them must have a sweeper for rows nobody picked up (the outbox has one).

Inline (no thread, no delay) when the window is 0, when Celery runs tasks eagerly (tests
expect the work done when the commit returns), and inside a Celery task, whose process
may exit without running exit handlers (prefork children) and whose sends are not on a
request's critical path anyway.
"""

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Every live coalescer, to flush at interpreter exit (gunicorn's graceful stop ends its
# workers with sys.exit, which runs atexit handlers).
_instances: "weakref.WeakSet[Coalescer]" = weakref.WeakSet()


def _in_celery_task_or_eager() -> bool:
    # Imported here: config.celery imports Django settings, and this module is imported
    # by services at load time.
    from celery import current_task

    from config.celery import app

    # current_task is a proxy: it is falsy when no task runs in this thread.
    return bool(app.conf.task_always_eager) or bool(current_task)


class Coalescer(Generic[T]):
    """Calls `send(items)` from a daemon thread with everything submitted within `window()`
    seconds of the first waiting item, or at once when `max_items` are waiting (a batch
    never holds more than that). A failing `send` is logged, never raised: its items are
    the consumer's sweeper's to find."""

    def __init__(
        self,
        name: str,
        send: Callable[[list[T]], None],
        *,
        window: Callable[[], float],
        max_items: int,
        inline: Callable[[], bool] = _in_celery_task_or_eager,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.name = name
        self._send = send
        self._window = window
        self._inline = inline
        self.max_items = max_items
        self._reset()
        _instances.add(self)

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._items: list[T] = []
        self._first_at = 0.0
        self._thread: threading.Thread | None = None

    def submit(self, items: Sequence[T]) -> None:
        if not items:
            return
        window = self._window()
        if window <= 0 or self._inline():
            for batch in self._batches(list(items)):
                self._send_logged(batch)
            return
        with self._cond:
            first = not self._items
            if first:
                self._first_at = time.monotonic()
            self._items.extend(items)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"coalesce-{self.name}", daemon=True
                )
                self._thread.start()
            # The thread sleeps until a first item arrives, then until its window ends: it
            # is woken for the first item and for a full batch, not for every addition in
            # between (each wake-up is a context switch and a turn at the GIL, taken from
            # the requests this is meant to spare).
            if first or len(self._items) >= self.max_items:
                self._cond.notify()

    def flush(self) -> None:
        """Send whatever is waiting now, in this thread (at exit; in tests)."""
        with self._cond:
            items, self._items = self._items, []
        for batch in self._batches(items):
            self._send_logged(batch)

    def pending(self) -> int:
        with self._cond:
            return len(self._items)

    def _batches(self, items: list[T]) -> list[list[T]]:
        return [items[at : at + self.max_items] for at in range(0, len(items), self.max_items)]

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                # Wait out the window from the first waiting item, unless a full batch
                # is ready sooner (submit notifies when the batch fills up).
                while len(self._items) < self.max_items:
                    left = self._first_at + self._window() - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._items[: self.max_items]
                # What stays behind arrived after _first_at: it keeps that deadline.
                self._items = self._items[self.max_items :]
            self._send_logged(batch)

    def _send_logged(self, batch: list[T]) -> None:
        try:
            self._send(batch)
        except Exception:
            logger.exception(
                "%s: could not send %d items (left to the sweeper)", self.name, len(batch)
            )


@atexit.register
def _flush_all() -> None:
    for coalescer in list(_instances):
        coalescer.flush()


def _reset_all_in_child() -> None:
    # A forked child (a gunicorn or Celery worker forked after import) must not share the
    # parent's lock, hold the parent's waiting items, or take the parent's thread for its own.
    for coalescer in list(_instances):
        coalescer._reset()


os.register_at_fork(after_in_child=_reset_all_in_child)
