"""Pure numbers: percentiles and the summary of one load run."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default), so p50 of [1, 2, 3, 4] is 2.5. NaN for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class LoadResult:
    """What one bounded load run measured. Latencies are in seconds."""

    requests: int
    duration: float
    p50: float
    p99: float
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # socket errors and timeouts, not HTTP statuses
    tool: str = ""
    # Every latency, when the generator keeps them (the Python one does; wrk does not).
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    def unexpected(self, *expected: int) -> int:
        """How many answers had a status outside `expected`, plus transport errors."""
        return self.errors + sum(n for code, n in self.statuses.items() if code not in expected)


def summarize(
    latencies: Sequence[float],
    duration: float,
    *,
    statuses: dict[int, int] | None = None,
    errors: int = 0,
    tool: str = "python",
) -> LoadResult:
    return LoadResult(
        requests=len(latencies),
        duration=duration,
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        statuses=dict(statuses or {}),
        errors=errors,
        tool=tool,
        latencies=list(latencies),
    )
