"""Settings refuse to start half-configured. Each case imports config.settings in a fresh
interpreter with a controlled environment (explicitly empty values beat a developer's .env,
which only fills variables that are unset)."""

import json
import os
import subprocess

import pytest
from django.db import connection

from contacts.models import Contact
from tests.fresh_python import run_fresh

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
    return run_with_settings(
        "from django.conf import settings; print(settings.DEBUG, settings.TIME_ZONE)", **changes
    )


def database_options(**changes: str) -> dict:
    result = run_with_settings(
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))",
        **changes,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_with_settings(code: str, **changes: str) -> subprocess.CompletedProcess:
    return run_fresh(code, env={"PATH": os.environ.get("PATH", ""), **GOOD_ENV, **changes})


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


@pytest.mark.parametrize("value", ["Mars/Olympus", "utc+2", "../etc", "localtime", "posixrules"])
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


RECOVERY_VARIABLES = (
    "WORKFLOW_STEP_LEASE_SECONDS",
    "OUTBOX_LEASE_SECONDS",
    "RECOVERY_LOST_AFTER_SECONDS",
    "RECOVERY_SWEEP_SECONDS",
)


@pytest.mark.parametrize("variable", RECOVERY_VARIABLES)
@pytest.mark.parametrize("value", ["soon", "1.5", "-5", "0", "86400"])
def test_it_refuses_a_malformed_or_out_of_range_recovery_time(variable, value):
    assert_refused(load_settings(**{variable: value}), variable)


def test_it_refuses_a_lease_shorter_than_the_io_it_covers():
    assert_refused(load_settings(OUTBOX_LEASE_SECONDS="10"), "OUTBOX_LEASE_SECONDS")


def test_it_sweeps_as_often_as_told():
    result = run_with_settings(
        "from django.conf import settings as s; "
        "print(s.WORKFLOW_STEP_LEASE_SECONDS, s.OUTBOX_LEASE_SECONDS, "
        "s.CELERY_BEAT_SCHEDULE['sweep-outbox']['schedule'], "
        "s.CELERY_BEAT_SCHEDULE['workflows-sweep-steps']['schedule'])",
        WORKFLOW_STEP_LEASE_SECONDS="90",
        OUTBOX_LEASE_SECONDS="45",
        RECOVERY_SWEEP_SECONDS="20",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["90", "45", "20.0", "20.0"]


# Loading settings opens no connection: any PostgreSQL URL will do.
POSTGRES_URL = "postgres://onceslot@127.0.0.1:5432/onceslot"


def test_it_binds_parameters_server_side_on_postgresql_by_default():
    options = database_options(DATABASE_URL=POSTGRES_URL)
    assert options == {"server_side_binding": True, "prepare_threshold": 2}


@pytest.mark.parametrize("value", ["on", "true", "1"])
def test_it_binds_parameters_server_side_when_turned_on(value):
    options = database_options(DATABASE_URL=POSTGRES_URL, DATABASE_SERVER_SIDE_BINDING=value)
    assert options == {"server_side_binding": True, "prepare_threshold": 2}


@pytest.mark.parametrize("value", ["off", "false", "0"])
def test_it_binds_parameters_client_side_when_turned_off(value):
    options = database_options(DATABASE_URL=POSTGRES_URL, DATABASE_SERVER_SIDE_BINDING=value)
    assert "server_side_binding" not in options
    assert "prepare_threshold" not in options


def test_it_ignores_server_side_binding_on_sqlite():
    options = database_options(DATABASE_SERVER_SIDE_BINDING="on")
    assert "server_side_binding" not in options
    assert "prepare_threshold" not in options


@pytest.mark.parametrize("database_url", [POSTGRES_URL, GOOD_ENV["DATABASE_URL"]])
@pytest.mark.parametrize("value", ["maybe", "ture", "2"])
def test_it_refuses_a_malformed_server_side_binding(database_url, value):
    result = load_settings(DATABASE_URL=database_url, DATABASE_SERVER_SIDE_BINDING=value)
    assert_refused(result, "DATABASE_SERVER_SIDE_BINDING")


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_prepares_a_statement_on_its_third_run():
    # The suite runs with the production default: this is the connection every test uses.
    assert connection.features.uses_server_side_binding

    def prepared() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
            return {row[0] for row in cursor.fetchall()}

    def lookup() -> None:
        Contact.objects.filter(email="nobody@example.com").exists()

    lookup()
    lookup()
    before = prepared()
    lookup()
    new = prepared() - before
    assert len(new) == 1
    (statement,) = new
    assert Contact._meta.db_table in statement
    assert "$1" in statement  # the value travelled apart from the text


@pytest.mark.parametrize("value", ["often", "0", "10", "100000"])
def test_it_refuses_a_malformed_calendar_sync_interval(value):
    assert_refused(
        load_settings(CALENDAR_SYNC_INTERVAL_SECONDS=value), "CALENDAR_SYNC_INTERVAL_SECONDS"
    )


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_it_refuses_a_malformed_calendar_connection_allow_private(value):
    assert_refused(
        load_settings(CALENDAR_CONNECTION_ALLOW_PRIVATE=value), "CALENDAR_CONNECTION_ALLOW_PRIVATE"
    )
