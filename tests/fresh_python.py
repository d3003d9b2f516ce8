"""Run Python code in a fresh interpreter from the project root: for what only shows on a
first import (import cycles, settings that refuse to start, what a WSGI worker loads)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(
    code: str, *, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess:
    """`python -c code` with exactly `env` as its environment; never raises on failure (the
    caller asserts on returncode and stderr)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
