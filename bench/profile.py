"""Optional: sample the gunicorn workers with py-spy while a row's load runs
(`python -m bench --profile`). py-spy is not a project dependency: point BENCH_PYSPY at it
or have it on PATH. Each row leaves <row>.pyspy.txt (collapsed stacks) and a short
summary of the heaviest project functions in the run directory."""

import os
import re
import shutil
import signal
import subprocess
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

PROJECT = ("bookings/", "calendars/", "contacts/", "workflows/", "config/")


def find_pyspy() -> str | None:
    return os.environ.get("BENCH_PYSPY") or shutil.which("py-spy")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def summarize_collapsed(text: str, top: int = 15) -> list[tuple[str, float, float]]:
    """(frame, inclusive share, self share) of the heaviest frames in py-spy's raw
    (collapsed) output: lines 'frame;frame;... count'."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return []
    keys = [f for f, _ in own.most_common(top)]
    keys += [f for f, _ in inclusive.most_common() if any(p in f for p in PROJECT)][:top]
    seen = dict.fromkeys(keys)
    return [(f, inclusive[f] / total, own[f] / total) for f in seen]


@contextmanager
def profiling(
    name: str,
    pid: int | None = None,
    *,
    pyspy: str | None,
    master_pid: int | None,
    run_dir: Path,
):
    """Sample `pid` (default: gunicorn's master) and its children until the block ends."""
    pid = pid or master_pid
    if not pyspy or not pid:
        yield
        return
    out = run_dir / f"{_slug(name)}.pyspy.txt"
    process = subprocess.Popen(
        [
            pyspy,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            # Only threads holding the GIL: where the server spends CPU, not where its
            # threads wait for PostgreSQL or the next request.
            "--gil",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        # py-spy writes its output when interrupted.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        if out.exists():
            lines = [
                f"{inc:6.1%} incl {own:6.1%} self  {frame}"
                for frame, inc, own in summarize_collapsed(out.read_text())
            ]
            (run_dir / f"{_slug(name)}.summary.txt").write_text("\n".join(lines) + "\n")
