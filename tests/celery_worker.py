"""A REAL Celery worker for tests: `celery -A config worker` in a subprocess, on Redis.

Why a subprocess: it is the production path end to end (Celery's CLI, the Django fixup,
the Redis transport, acks_late, retries published back to the broker with a countdown,
several worker threads claiming the same rows concurrently), and nothing in the worker
shares memory with the test, so "sent once" is proven by the database and the SMTP server,
not by a shared Python object.

How it sees the test database: the fixture uses `transactional_db` (rows are committed,
so another process can read them) and hands the worker the test database's settings
(`connection.settings_dict`, i.e. NAME = test_<db>) through ONCESLOT_TEST_SETTINGS, read by
tests/celery_worker_settings.py. The same variable carries the EMAIL_* settings (so the
worker mails the in-test SMTP server of tests/smtp.py), SITE_URL, SECRET_KEY, and every
setting named OUTBOX_* or WORKFLOW*, as they are in the test process when the worker starts:
request `smtp_server` (and set `settings.OUTBOX_...`) BEFORE starting the worker.

    @pytest.mark.redis
    @pytest.mark.smtp
    def test_it_mails_through_a_worker(smtp_server, celery_worker_factory, settings):
        settings.OUTBOX_RETRY_BACKOFF_SECONDS = 0.2
        worker = celery_worker_factory(concurrency=2)
        ...
        smtp_server.wait_for(1)

`celery_worker` is the same with defaults. The queue is purged (and Redis' unacked set
cleared) before the worker starts and after it stops; `worker.stop()` is a warm shutdown
(running tasks finish), `worker.kill()` a crash (SIGKILL). `worker.log()` is the worker's
output, attached to failures. `celery_worker_factory(beat=True)` embeds the scheduler
(`-B`: the periodic sweeps run as in production). `restart_broker_empty(url)` empties the
broker's Redis database and drops its clients, as a Redis restart without persistence does.
`django_subprocess(code)` runs code in another process on the test database (a web process
to kill).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
FORWARDED_SETTINGS = (
    "SECRET_KEY",
    "SITE_URL",
    "DEFAULT_FROM_EMAIL",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
    "THROTTLE_PUBLIC_RATE",
)
FORWARDED_PREFIXES = ("OUTBOX_", "WORKFLOW", "RECOVERY_")
_DATABASE_KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


def _encode(name: str, value):
    if isinstance(value, timedelta):
        return {"__timedelta__": value.total_seconds()}
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"setting {name} cannot be passed to the worker: {exc}") from exc
    return value


def worker_settings(**overrides) -> dict:
    """The settings a worker needs to act like this test process, plus `overrides`."""
    values = {
        name: getattr(settings, name) for name in FORWARDED_SETTINGS if hasattr(settings, name)
    }
    values.update(
        {
            name: getattr(settings, name)
            for name in dir(settings)
            if name.startswith(FORWARDED_PREFIXES)
        }
    )
    database = {key: connection.settings_dict[key] for key in _DATABASE_KEYS}
    # Closed after every task: nothing lingers when the test database is flushed or dropped.
    database["CONN_MAX_AGE"] = 0
    values["DATABASES"] = {"default": database}
    values.update(overrides)
    return {name: _encode(name, value) for name, value in values.items()}


def purge_broker(url: str) -> None:
    """Drop queued messages and the Redis transport's unacked set (messages a killed worker
    held), so nothing from one test is delivered in the next."""
    import redis

    from config.celery import app

    app.control.purge()
    client = redis.Redis.from_url(url)
    client.delete("unacked", "unacked_index", "unacked_mutex")
    client.close()


def restart_broker_empty(url: str) -> None:
    """Everything in the broker's Redis database is gone (queued tasks, held ones, the
    queue bindings) and every client of that database is cut off, as after a restart of a
    Redis without persistence. Clients of other databases on the server are left alone."""
    import redis

    client = redis.Redis.from_url(url)
    database = client.connection_pool.connection_kwargs.get("db", 0)
    me = client.client_id()
    client.flushdb()
    for other in client.client_list():
        if int(other["db"]) == database and int(other["id"]) != me:
            client.client_kill_filter(_id=other["id"])
    client.close()


class CeleryWorker:
    def __init__(
        self,
        *,
        broker_url: str,
        overrides: dict,
        log_path: Path,
        concurrency: int = 2,
        beat_schedule: Path | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.overrides = overrides
        self.log_path = log_path
        self.concurrency = concurrency
        self.beat_schedule = beat_schedule
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 120.0) -> "CeleryWorker":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.celery_worker_settings",
            "CELERY_BROKER_URL": self.broker_url,
            "ONCESLOT_TEST_SETTINGS": json.dumps(self.overrides),
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=threads", f"--concurrency={self.concurrency}", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        if self.beat_schedule is not None:
            command += ["-B", "--schedule", str(self.beat_schedule)]
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Celery worker exited at start:\n{self.log()}", pytrace=False)
            if " ready." in self.log():
                return self
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"Celery worker not ready after {timeout}s:\n{self.log()}", pytrace=False)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Warm shutdown: running tasks finish, held (countdown) messages go back to Redis."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def kill(self) -> None:
        """A crash: SIGKILL, no cleanup, unacked messages stay unacked."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        self.process = None
        self._log_file.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def celery_worker_factory(transactional_db, tmp_path, settings):
    url = redis_url()
    purge_broker(url)
    workers: list[CeleryWorker] = []

    def start(
        *, concurrency: int = 2, broker_url: str = url, beat: bool = False, **overrides
    ) -> CeleryWorker:
        worker = CeleryWorker(
            broker_url=broker_url,
            overrides=worker_settings(**overrides),
            log_path=tmp_path / f"celery-worker-{len(workers)}.log",
            concurrency=concurrency,
            beat_schedule=tmp_path / f"celerybeat-{len(workers)}" if beat else None,
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
    purge_broker(url)


@pytest.fixture
def celery_worker(celery_worker_factory) -> CeleryWorker:
    return celery_worker_factory()


def wait_until(predicate, *, timeout: float = 60.0, what: str, worker=None):
    """Poll for the outcome of work done by another process (not a sleep for logic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    log = f"\nworker log:\n{worker.log()}" if worker else ""
    pytest.fail(f"timed out waiting for {what}{log}", pytrace=False)


def django_subprocess(code: str, *, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter set up like a worker of this test (the test
    database, the forwarded settings), after django.setup(). For a process to kill: it may
    end itself with a signal; the caller asserts on the result."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.celery_worker_settings",
        "ONCESLOT_TEST_SETTINGS": json.dumps(worker_settings()),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
