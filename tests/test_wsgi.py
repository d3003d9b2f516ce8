"""config.wsgi: the entry point gunicorn and runserver load in each worker."""

import os

from tests.fresh_python import run_fresh

PROBE = """
import config.wsgi
print(type(config.wsgi.application).__name__)
"""


def test_it_gives_gunicorn_a_django_application():
    # A fresh interpreter, as a gunicorn worker starts.
    done = run_fresh(PROBE, env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["WSGIHandler"]
