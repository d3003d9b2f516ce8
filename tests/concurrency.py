"""Concurrent attempts released together, each on its own database connection: the harness
of the race tests on real PostgreSQL."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_together(target: Callable[[int], Any], count: int, *, timeout: float = 120) -> list:
    """Run target(index) in `count` threads that a Barrier releases at once, so their
    transactions overlap; their results in order, an exception standing for its thread's
    result (the test asserts on it). Fails if a thread hangs."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = target(index)
        except Exception as exc:  # recorded and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return results
