"""Settings of the Celery worker subprocess that tests/celery_worker.py starts.

The test settings, plus the overrides the test process passes in ONCESLOT_TEST_SETTINGS
(JSON): the test database's name, the in-test SMTP server, short retry backoffs. A value
{"__timedelta__": seconds} becomes a timedelta.
"""

import json
import os
from datetime import timedelta

from config.settings_test import *  # noqa: F403


def _decode(value):
    if isinstance(value, dict) and set(value) == {"__timedelta__"}:
        return timedelta(seconds=value["__timedelta__"])
    return value


for _name, _value in json.loads(os.environ.get("ONCESLOT_TEST_SETTINGS", "{}")).items():
    globals()[_name] = _decode(_value)
