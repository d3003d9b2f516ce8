"""Shared fixtures, and the rule that a test needing a real service never passes silently.

Tests that need PostgreSQL, Redis, an SMTP server or Chromium are marked (`postgres`,
`redis`, `smtp`, `browser`). On a developer machine without the service they skip; with
ONCESLOT_REQUIRE_SERVICES=1 (set by .ci/run) every skip, for whatever reason, is a failure.
"""

import os
import shutil

import pytest
from django.db import connection

REQUIRE_SERVICES = os.environ.get("ONCESLOT_REQUIRE_SERVICES") == "1"

# smtp_server (a real aiosmtpd server) and celery_worker / celery_worker_factory (a real
# Celery worker subprocess on Redis that reads the test database).
pytest_plugins = ["tests.smtp", "tests.celery_worker", "tests.radicale"]


def unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure: {report.longrepr}"


@pytest.fixture(autouse=True)
def _require_marked_services(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        unavailable(f"needs PostgreSQL, DATABASE_URL points at {connection.vendor}")
    if request.node.get_closest_marker("browser") and not chromium_path():
        unavailable("needs Debian's chromium (/usr/bin/chromium)")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


def redis_url() -> str:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        unavailable(f"needs Redis, CELERY_BROKER_URL is {url!r}")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} does not answer: {exc}")
    return url
