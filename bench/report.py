"""Rows of the bench, their verdicts, the printed table and the JSON record."""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

PASS = "PASS"  # noqa: S105 (a verdict, not a password)
FAIL = "FAIL"
NA = "n/a"


@dataclass
class Row:
    name: str
    issue: int | None = None
    value: float | None = None
    unit: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None
    fraction: float | None = None  # of the ceiling's requests/s
    target: str = ""
    status: str = NA
    notes: str = ""


def unavailable(name: str, issue: int | None, reason: str, *, target: str = "") -> Row:
    return Row(
        name=name, issue=issue, target=target, status=NA, notes=f"not available yet: {reason}"
    )


def broken(name: str, issue: int | None, reason: str, *, target: str = "") -> Row:
    """The bench could not measure this row (a crash in the harness or the server)."""
    return Row(name=name, issue=issue, target=target, status=FAIL, notes=f"bench error: {reason}")


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def format_number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


COLUMNS = ("row", "value", "unit", "p50 ms", "p99 ms", "x ceiling", "target", "result", "notes")


def format_table(rows: list[Row]) -> str:
    """A plain-text table, one line per row; numbers right-aligned, the notes left last."""
    cells = [
        (
            row.name,
            format_number(row.value),
            row.unit,
            format_number(row.p50_ms),
            format_number(row.p99_ms),
            format_fraction(row.fraction),
            row.target,
            row.status,
            row.notes,
        )
        for row in rows
    ]
    widths = [len(c) for c in COLUMNS]
    for line in cells:
        for i, cell in enumerate(line[:-1]):
            widths[i] = max(widths[i], len(cell))
    numeric = {1, 3, 4, 5}

    def render(line) -> str:
        parts = []
        for i, cell in enumerate(line[:-1]):
            parts.append(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]))
        parts.append(line[-1])
        return "  ".join(parts).rstrip()

    header = render(COLUMNS)
    rule = "-" * max(len(header), sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([header, rule, *(render(line) for line in cells)])


def write_results(directory: Path, *, stamp: str, meta: dict, rows: list[Row]) -> Path:
    """One JSON file per run (and latest.json): the table's rows plus the run's context."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2, default=str)
    path = directory / f"bench-{stamp}.json"
    path.write_text(payload + "\n")
    (directory / "latest.json").write_text(payload + "\n")
    return path


def prune(directory: Path, keep: int = 20) -> None:
    """Keep the newest `keep` runs (JSON and log folder); names sort by time."""
    import shutil

    runs = sorted(p for p in directory.glob("bench-*.json"))
    if len(runs) <= keep:
        return
    oldest_kept = runs[-keep].stem.removeprefix("bench-")
    for old in runs[:-keep]:
        old.unlink(missing_ok=True)
    # Log folders of removed runs, and of runs that broke before writing their JSON.
    for folder in directory.iterdir():
        if folder.is_dir() and folder.name < oldest_kept:
            shutil.rmtree(folder, ignore_errors=True)
