"""Issue 19's rows: the database time of one recovery sweep (workflow steps, outbox) with
100,000 finished steps and 100,000 sent outbox rows in the tables, as the sweeps run every
15 s in production.

The value is the PostgreSQL backend's CPU per sweep (/proc, summed over the runs): what the
sweep costs the database, which the other work on this shared machine disturbs little. The
p50/p99 columns are the wall time of the sweep's statements seen from the client (Django's
execute wrapper, loopback round trips and waits for a CPU included). The publishes of what
a sweep finds are not database time and are left out (no-ops: no broker needed). Two cases
each: an idle sweep (only live rows that are not late) and one that finds 100 lost items
and 10 ended leases, put back before every run.
"""

import statistics
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

from django.db import connection

from bench.report import Row, verdict

FINISHED = 100_000
TARGET_MS = 20.0
TARGET = f"< {TARGET_MS:g} ms"
IDLE_RUNS = 50
BUSY_RUNS = 20
LOST = 100
ENDED_LEASES = 10


def _seed(now: datetime) -> dict:
    """200,000 finished rows by INSERT ... SELECT (seconds, where the ORM would take
    minutes), plus live ones: fresh queued steps, running ones within their lease, fresh
    pending emails. The bench may use SQL; the application may not."""
    from contacts.models import Contact
    from workflows.models import Workflow

    workflow = Workflow.objects.create(name="Bench: finished", status="published")
    contact = Contact.objects.create(email="swept@bench.example")
    with connection.cursor() as cursor:
        # 10,000 completed enrollments x 10 succeeded steps.
        cursor.execute(
            """
            INSERT INTO workflows_enrollment
                (workflow_id, contact_id, trigger_type, trigger_data, is_test, status, values,
                 actions, error, created_at, finished_at)
            SELECT %s, %s, 'manual', '{}', false, 'completed', '{}', '[]', '',
                   %s - n * interval '1 second', %s - n * interval '1 second'
            FROM generate_series(1, %s) AS n
            """,
            [workflow.pk, contact.pk, now, now, FINISHED // 10],
        )
        cursor.execute(
            """
            INSERT INTO workflows_steprun
                (enrollment_id, position, key, type, status, attempts, output, error,
                 due_at, queued_at, started_at, claimed_at, lease_until, finished_at)
            SELECT e.id, p, 'tag' || p, 'add_tag', 'succeeded', 1, '{}', '', NULL,
                   e.created_at, e.created_at, e.created_at, NULL, e.created_at
            FROM workflows_enrollment e, generate_series(0, 9) AS p
            WHERE e.workflow_id = %s
            """,
            [workflow.pk],
        )
        cursor.execute(
            """
            INSERT INTO bookings_outboxmessage
                (key, "to", subject, body_text, body_html, ics, ics_method, template, context,
                 status, attempts, last_error, created_at, claimed_at, lease_until, sent_at)
            SELECT 'bench:sent:' || n, 'sent' || n || '@bench.example', 'Sent', 'Hello.',
                   '', '', '', '', '{}', 'sent', 1, '', %s - n * interval '1 second',
                   %s - n * interval '1 second', NULL, %s - n * interval '1 second'
            FROM generate_series(1, %s) AS n
            """,
            [now, now, now, FINISHED],
        )
        # As autovacuum would after loading this much.
        cursor.execute(
            "VACUUM ANALYZE workflows_steprun, bookings_outboxmessage, workflows_enrollment"
        )
    return {"workflow": workflow, "contact": contact}


def _live(now: datetime, seeded: dict, *, tag: str) -> tuple[list[int], list[int]]:
    """Live rows, none late: 50 queued steps just now, 20 running within their lease, 50
    pending emails just created. Returns (step ids, message ids) to turn lost later."""
    from bookings.models import OutboxMessage
    from workflows.models import Enrollment, StepRun

    enrollments = Enrollment.objects.bulk_create(
        Enrollment(
            workflow=seeded["workflow"],
            contact=seeded["contact"],
            trigger_type="manual",
            status="completed",
            actions=[],
            created_at=now,
        )
        for _ in range(70 + LOST + ENDED_LEASES)
    )
    steps = StepRun.objects.bulk_create(
        [
            StepRun(enrollment=e, position=0, key="t", type="add_tag", queued_at=now)
            for e in enrollments[:50]
        ]
        + [
            StepRun(
                enrollment=e,
                position=0,
                key="t",
                type="add_tag",
                status="running",
                attempts=1,
                claimed_at=now,
                lease_until=now + timedelta(seconds=60),
            )
            for e in enrollments[50:70]
        ]
        + [
            StepRun(enrollment=e, position=0, key="t", type="add_tag", queued_at=now)
            for e in enrollments[70:]
        ]
    )
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(
            key=f"bench:{tag}:{n}", to=f"live{n}@bench.example", subject="Hi", body_text="Hello."
        )
        for n in range(50 + LOST + ENDED_LEASES)
    )
    return [s.pk for s in steps[70:]], [m.pk for m in messages[50:]]


def _make_late(now: datetime, step_ids: list[int], message_ids: list[int]) -> None:
    """LOST of each lost with the broker, ENDED_LEASES of each held by a dead worker."""
    from bookings.models import OutboxMessage
    from workflows.models import StepRun

    long_ago = now - timedelta(minutes=5)
    StepRun.objects.filter(pk__in=step_ids[:LOST]).update(
        status="queued", queued_at=long_ago, due_at=None, lease_until=None
    )
    StepRun.objects.filter(pk__in=step_ids[LOST:]).update(
        status="running", claimed_at=long_ago, lease_until=long_ago + timedelta(seconds=60)
    )
    OutboxMessage.objects.filter(pk__in=message_ids[:LOST]).update(
        status="pending", created_at=long_ago, lease_until=None
    )
    OutboxMessage.objects.filter(pk__in=message_ids[LOST:]).update(
        status="sending", claimed_at=long_ago, lease_until=long_ago + timedelta(seconds=60)
    )


@contextmanager
def _database_time():
    spent = [0.0]

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[0] += time.perf_counter() - started

    with connection.execute_wrapper(timed):
        yield spent


def _backend_cpu() -> float:
    from bench.processes import process_cpu_seconds

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return process_cpu_seconds(pid)


def _measure(sweep, runs: int, before=None) -> tuple[list[float], float]:
    """Wall ms of the statements of each run, and the backend's CPU ms per run (its clock
    ticks are 10 ms: summed over the runs, then divided)."""
    times = []
    cpu = 0.0
    for _ in range(runs):
        if before:
            before()
        started = _backend_cpu()
        with _database_time() as spent:
            sweep()
        cpu += _backend_cpu() - started
        times.append(spent[0] * 1000)
    return times, cpu * 1000 / runs


def _row(name: str, measured: tuple[list[float], float], note: str) -> Row:
    times, cpu_ms = measured
    return Row(
        name=name,
        issue=19,
        value=cpu_ms,
        unit="ms DB CPU",
        p50_ms=statistics.median(times),
        p99_ms=max(times),
        target=TARGET,
        status=verdict(cpu_ms < TARGET_MS),
        notes=f"{note}; p50/p99: wall ms of its statements, slowest of the runs as p99",
    )


def sweep_rows(ctx) -> list[Row]:
    from django.utils import timezone

    from bookings.services.outbox import outbox_sweep
    from workflows.services import steps_sweep

    now = timezone.now()
    ctx.log(f"sweeps: seeding {FINISHED:,} finished steps and {FINISHED:,} sent emails")
    seeded = _seed(now)
    step_ids, message_ids = _live(timezone.now(), seeded, tag="live")

    def steps() -> None:
        steps_sweep()

    def outbox() -> None:
        outbox_sweep()

    def late() -> None:
        _make_late(timezone.now(), step_ids, message_ids)

    with (
        mock.patch("workflows.tasks.run_step.delay"),
        mock.patch("workflows.tasks.run_step.apply_async"),
    ):
        idle = {"steps": _measure(steps, IDLE_RUNS), "outbox": _measure(outbox, IDLE_RUNS)}
        busy = {
            "steps": _measure(steps, BUSY_RUNS, before=late),
            "outbox": _measure(outbox, BUSY_RUNS, before=late),
        }
    found = f"finds {LOST} lost + {ENDED_LEASES} ended leases"
    return [
        _row(
            "sweep: steps, idle",
            idle["steps"],
            f"{IDLE_RUNS} runs; 100k finished steps",
        ),
        _row("sweep: steps, busy", busy["steps"], f"{found}; {BUSY_RUNS} runs"),
        _row(
            "sweep: outbox, idle",
            idle["outbox"],
            f"{IDLE_RUNS} runs; 100k sent rows",
        ),
        _row("sweep: outbox, busy", busy["outbox"], f"{found}; {BUSY_RUNS} runs"),
    ]
