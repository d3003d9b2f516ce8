"""config.wsgi: the entry point gunicorn and runserver load in each worker."""

import os

from tests.fresh_python import run_fresh

PROBE = """
import gc, sys
import config.wsgi
print(gc.get_freeze_count())
print(int("bookings.views.pages" in sys.modules))
"""


def test_it_loads_the_urlconf_and_freezes_what_is_loaded_out_of_the_gc():
    # A fresh interpreter: the test process has long since loaded everything, and a freeze
    # here would outlive the test.
    done = run_fresh(PROBE, env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    frozen, views_loaded = (int(line) for line in done.stdout.split())
    assert views_loaded == 1  # the URLconf's view modules, imported before the freeze
    assert frozen > 10_000  # Django, the apps and their models
