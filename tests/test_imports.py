"""Every API module imports on its own, first thing in a fresh interpreter.

DRF's settings import config.api (parser, exception handler); a module that reaches DRF
through config.api first must not close an import cycle.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "module",
    [
        "config.api",
        "config.public_api",
        "bookings.api.slots",
        "bookings.api.bookings",
        "bookings.api.links",
        "workflows.api",
        "contacts.api",
        "calendars.api",
    ],
)
def test_it_imports_each_api_module_first(module):
    code = f"import django; django.setup(); import {module}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
