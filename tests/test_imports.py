"""Every API module imports on its own, first thing in a fresh interpreter.

DRF's settings import config.api (parser, exception handler); a module that reaches DRF
through config.api first must not close an import cycle.
"""

import os

import pytest

from tests.fresh_python import run_fresh


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
    result = run_fresh(code, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"})
    assert result.returncode == 0, result.stderr[-2000:]
