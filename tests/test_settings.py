"""Settings refuse to start half-configured. Each case imports config.settings in a fresh
interpreter with a controlled environment (explicitly empty values beat a developer's .env,
which only fills variables that are unset)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GOOD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "a-long-enough-secret-key-for-the-settings-tests",
    "DEBUG": "off",
    "ALLOWED_HOSTS": "localhost",
    "DATABASE_URL": "sqlite:////tmp/onceslot-settings-test.sqlite3",
    "TIME_ZONE": "UTC",
    "SITE_URL": "http://localhost:8000",
    "EMAIL_URL": "consolemail://",
    "CELERY_BROKER_URL": "memory://",
}


def load_settings(**changes: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), **GOOD_ENV, **changes}
    code = "from django.conf import settings; print(settings.DEBUG, settings.TIME_ZONE)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess, variable: str) -> None:
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert variable in last_line


def test_it_starts_with_a_good_environment():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "UTC"]


def test_it_refuses_a_missing_secret_key_with_debug_off():
    assert_refused(load_settings(SECRET_KEY=""), "SECRET_KEY")


def test_it_allows_a_missing_secret_key_with_debug_on():
    result = load_settings(SECRET_KEY="", DEBUG="on")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"


@pytest.mark.parametrize("value", ["nonsense", "", "postgres//host/db", "foo://bar/baz"])
def test_it_refuses_a_malformed_database_url(value):
    assert_refused(load_settings(DATABASE_URL=value), "DATABASE_URL")


def test_it_refuses_a_database_url_with_a_bad_port():
    assert_refused(load_settings(DATABASE_URL="postgres://u@host:port/db"), "DATABASE_URL")


@pytest.mark.parametrize("value", ["maybe", "ture", "2"])
def test_it_refuses_a_malformed_debug(value):
    assert_refused(load_settings(DEBUG=value), "DEBUG")


@pytest.mark.parametrize("value", ["Mars/Olympus", "utc+2", "../etc"])
def test_it_refuses_a_malformed_time_zone(value):
    assert_refused(load_settings(TIME_ZONE=value), "TIME_ZONE")


def test_it_refuses_a_site_url_without_a_scheme():
    assert_refused(load_settings(SITE_URL="example.com"), "SITE_URL")


@pytest.mark.parametrize("value", ["fast", "120", "0/min", "120/fortnight"])
def test_it_refuses_a_malformed_throttle_rate(value):
    assert_refused(load_settings(THROTTLE_PUBLIC_RATE=value), "THROTTLE_PUBLIC_RATE")


@pytest.mark.parametrize("value", ["none", "30/s", "120/min", "1000/hour", "5000/day"])
def test_it_accepts_a_throttle_rate_or_none(value):
    assert load_settings(THROTTLE_PUBLIC_RATE=value).returncode == 0


def test_it_refuses_a_malformed_cache_url():
    assert_refused(load_settings(CACHE_URL="nosuchcache://somewhere"), "CACHE_URL")


def test_it_takes_a_redis_cache_url():
    assert load_settings(CACHE_URL="redis://127.0.0.1:6379/1").returncode == 0
