"""Bench rows for the pure availability engine (issue 2): 93 days of 15-minute slots
against 1,000, 5,000 and 10,000 bookings, to show the cost grows with slots + bookings and
not with slots x bookings. No database and no server: the engine alone, in this process.
"""

import random
import statistics
import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendars.availability import Busy, Rules, free_slots, is_free

DAYS = 93
SIZES = (1_000, 5_000, 10_000)
RUNS = 5
# Linear work costs about the same per slot + booking at every size (the one sort adds a
# log factor); slots x bookings work would cost ~5x more per item at 10,000 bookings than
# at 1,000 with these ~9,000 candidates.
GROWTH_LIMIT = 3.0
# The window starts mid-January so the 93 days cross New York's March DST change.
NOW = datetime(2027, 1, 15, 5, 0, tzinfo=UTC)


def _rules() -> Rules:
    whole_day = [(time(0, 0), time(23, 45))]
    return Rules(
        timezone=ZoneInfo("America/New_York"),
        duration=timedelta(minutes=15),
        interval=timedelta(minutes=15),
        buffer_before=timedelta(minutes=5),
        buffer_after=timedelta(minutes=10),
        window_days=DAYS + 30,
        weekly=dict.fromkeys(range(7), whole_day),
    )


def _bookings(count: int, start: datetime) -> list[Busy]:
    """Bookings of 15 to 60 minutes at random quarter hours over the 93 days, unsorted."""
    rng = random.Random(count)  # the same bookings on every run
    quarters = DAYS * 96
    result = []
    for _ in range(count):
        begin = start + timedelta(minutes=15 * rng.randrange(quarters))
        result.append(Busy(start=begin, end=begin + timedelta(minutes=15 * rng.randint(1, 4))))
    return result


def _median_seconds(call: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        began = clock.perf_counter()
        call()
        times.append(clock.perf_counter() - began)
    return statistics.median(times)


def engine_rows() -> list[dict]:
    rules = _rules()
    range_start = NOW
    range_end = NOW + timedelta(days=DAYS)
    candidates = len(free_slots(rules, [], now=NOW, range_start=range_start, range_end=range_end))

    rows = []
    seconds_by_size = {}
    for size in SIZES:
        busy = _bookings(size, range_start)

        def run(busy=busy) -> list[datetime]:
            return free_slots(rules, busy, now=NOW, range_start=range_start, range_end=range_end)

        free = len(run())
        seconds = _median_seconds(run)
        seconds_by_size[size] = seconds
        per_item_us = seconds / (candidates + size) * 1e6
        rows.append(
            {
                "row": f"engine: {DAYS} days of 15-min slots, {size:,} bookings",
                "value": round(seconds * 1000, 2),
                "unit": "ms",
                "note": (
                    f"median of {RUNS}; {candidates:,} candidates, {free:,} free; "
                    f"{per_item_us:.2f} us per slot+booking; this process, no DB"
                ),
            }
        )

    def per_item(size: int) -> float:
        return seconds_by_size[size] / (candidates + size)

    growth = per_item(SIZES[-1]) / per_item(SIZES[0])
    rows.append(
        {
            "row": f"engine cost per slot+booking, {SIZES[-1]:,} vs {SIZES[0]:,} bookings",
            "value": round(growth, 2),
            "unit": "x",
            "target": f"<= {GROWTH_LIMIT:g}x (slots x bookings would be ~5x)",
            "status": "PASS" if growth <= GROWTH_LIMIT else "FAIL",
            "note": "linear in slots + bookings: one sort of the bookings, one sweep",
        }
    )

    busy = _bookings(5_000, range_start)
    # A free start is the worst case: every booking is looked at before the answer.
    free = free_slots(rules, busy, now=NOW, range_start=range_start, range_end=range_end)
    probe = free[len(free) // 2]
    seconds = _median_seconds(lambda: is_free(rules, busy, now=NOW, start=probe), runs=RUNS * 4)
    rows.append(
        {
            "row": "engine: is_free for one start, 5,000 bookings",
            "value": round(seconds * 1000, 3),
            "unit": "ms",
            "note": (
                f"median of {RUNS * 4}; a free start (worst case): one local date's hours "
                "and one pass over the bookings"
            ),
        }
    )
    return rows


if __name__ == "__main__":
    for item in engine_rows():
        print(f"{item['row']:<55} {item['value']:>10} {item['unit']:<7} {item['note']}")
