"""Issue 16's row: 1,000 appointments booked through the public API, each enrolling a
reminder workflow (wait until N minutes before the start, then an email with the
appointment's values). All 1,000 share one start (a calendar with 1,000 seats), so every
wait ends at the same moment; the row measures from that moment until the 1,000th reminder
reaches the SMTP sink, with one Celery worker and the real beat releasing the waits.

The reminders are booked for "N minutes before" an appointment about ten minutes ahead, and
the waits park at that real due time. Once all 1,000 are parked and the confirmation emails
are out, the row brings the due time forward to a few seconds from then (one UPDATE of the
parked rows, what waiting out the minutes would do; time-machine cannot move the worker
process), so the row measures the release and the reminders, not the booking backlog nor
idle minutes."""

import json
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from bench import load
from bench.processes import ROOT, VENV_BIN, CeleryWorker, SmtpSink, _stop
from bench.report import Row, broken, verdict

APPOINTMENTS = 1_000
ROW_NAME = f"reminders: {APPOINTMENTS:,} appointments -> reminder at one due time"
TARGET_SECONDS = 60
TARGET = f"< {TARGET_SECONDS} s"
GIVE_UP_SECONDS = 240
SLUG = "bench-reminders"
SUBJECT = "Reminder: {{ appointment.calendar_name }}"
BODY = (
    'Hi {{ contact.first_name | default: "there" }}, see you {{ appointment.start_time }}. '
    "Reschedule: {{ appointment.reschedule_url }}"
)
# The appointment is this far ahead: far enough that no wait is due while bookings go on.
LEAD_SECONDS = 600
# The due time brought forward to this long after everything was parked.
DUE_IN_SECONDS = 5


def _address(n: int) -> str:
    return f"rem{n}@bench.example"


def _calendar(owner_id: int):
    from calendars.models import Calendar, WeeklyInterval

    calendar = Calendar.objects.create(
        owner_id=owner_id,
        name="Bench reminders",
        slug=SLUG,
        timezone="UTC",
        duration_minutes=30,
        slot_interval_minutes=5,
        seats_per_slot=APPOINTMENTS,
        booking_window_days=2,
    )
    WeeklyInterval.objects.bulk_create(
        WeeklyInterval(calendar=calendar, weekday=day, start=clock(0), end=clock(23, 55))
        for day in range(7)
    )
    return calendar


def _times(now: datetime) -> tuple[datetime, int, datetime]:
    """(start, minutes before it, due): the start on the 5-minute grid, the due time at
    least LEAD_SECONDS from now, in whole minutes before the start."""
    earliest_due = now + timedelta(seconds=LEAD_SECONDS)
    grid = 300
    start = datetime.fromtimestamp(math.ceil((earliest_due.timestamp() + 60) / grid) * grid, tz=UTC)
    minutes = int((start - earliest_due).total_seconds() // 60)
    return start, minutes, start - timedelta(minutes=minutes)


def _spec(calendar_id: int, minutes: int) -> dict:
    return {
        "name": "Bench: reminder",
        "status": "published",
        "trigger": {"type": "appointment_booked", "config": {"calendar": calendar_id}},
        "actions": [
            {
                "key": "wait",
                "type": "wait",
                "config": {
                    "amount": minutes,
                    "unit": "minutes",
                    "relative_to": "appointment_start",
                    "direction": "before",
                },
            },
            {"key": "email", "type": "send_email", "config": {"subject": SUBJECT, "body": BODY}},
        ],
    }


class Beat:
    """`celery beat` with the project's schedule (it releases the waits)."""

    def __init__(self, *, env: dict[str, str], run_dir: Path) -> None:
        self.env = env
        self.run_dir = run_dir
        self.process = None

    def start(self) -> None:
        import subprocess

        self._log = (self.run_dir / "celery-beat.log").open("w")
        self.process = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel=WARNING",
                "-s",
                str(self.run_dir / "celerybeat-schedule"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, timeout=20)
            self._log.close()


def _book_all(ctx, start: datetime) -> int:
    lock = threading.Lock()
    numbers = iter(range(APPOINTMENTS))

    def next_request() -> load.Request | None:
        with lock:
            n = next(numbers, None)
        if n is None:
            return None
        body = {
            "start": start.isoformat(),
            "name": f"Bench{n} Invitee",
            "email": _address(n),
            "timezone": "Europe/Berlin",
        }
        return load.Request(
            "POST",
            f"/api/public/calendars/{SLUG}/bookings/",
            json.dumps(body).encode(),
            headers=(("Content-Type", "application/json"),),
        )

    result = load.run_python(
        ctx.host, ctx.port, concurrency=8, duration=GIVE_UP_SECONDS, next_request=next_request
    )
    return result.statuses.get(201, 0)


def _settle(booked: int, *, deadline: float) -> str:
    """Until every wait is parked and no email is waiting in the outbox."""
    from bookings.models import OutboxMessage
    from workflows.models import StepRun

    began = time.monotonic()
    while time.monotonic() < deadline:
        parked = StepRun.objects.filter(status="waiting", position=0).count()
        pending = OutboxMessage.objects.exclude(status__in=["sent", "failed"]).count()
        if parked >= booked and not pending:
            return f"all parked and emails sent {time.monotonic() - began:.0f} s later"
        time.sleep(0.5)
    return f"not settled after {GIVE_UP_SECONDS} s ({parked} parked, {pending} emails left)"


def reminders_row(ctx, *, sink: SmtpSink, env: dict, run_dir: Path) -> list[Row]:
    import redis
    from django.contrib.auth import get_user_model

    from accounts.services import api_token_create
    from workflows.models import StepRun

    calendar = _calendar(ctx.seeded.owner_id)
    owner = get_user_model().objects.get(pk=ctx.seeded.owner_id)
    _token, key = api_token_create(user=owner, name="bench reminders")
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    start, minutes, due = _times(datetime.now(UTC))
    status, body = ctx.fetch(
        "POST", "/api/workflows/", json.dumps(_spec(calendar.pk, minutes)).encode(), headers
    )
    if status != 201:
        return [broken(ROW_NAME, 16, f"POST /api/workflows/ got HTTP {status}: {body[:300]!r}")]

    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    sink.clear()
    worker = CeleryWorker(env=env, log_path=run_dir / "celery-reminders.log")
    beat = Beat(env=env, run_dir=run_dir)
    worker.start()
    try:
        worker.wait_ready()
        beat.start()
        with ctx.profile(ROW_NAME + " worker", worker.pid):
            booked = _book_all(ctx, start)
            booked_at = datetime.now(UTC)
            wanted = {_address(n) for n in range(APPOINTMENTS)}
            settled = _settle(booked, deadline=time.monotonic() + GIVE_UP_SECONDS)
            real_due = due
            due = datetime.now(UTC) + timedelta(seconds=DUE_IN_SECONDS)
            StepRun.objects.filter(status="waiting", position=0).update(due_at=due)
            while datetime.now(UTC) < due:
                time.sleep(0.05)
            parked_at_due = StepRun.objects.filter(status="waiting", position=0).count()
            # The sink's clock is perf_counter: the due moment on it.
            due_perf = time.perf_counter() - (datetime.now(UTC) - due).total_seconds()
            worker_cpu_before = worker.cpu_seconds()
            while time.perf_counter() - due_perf < GIVE_UP_SECONDS:
                with sink.lock:
                    arrived = sum(
                        1
                        for rcpts, raw, _ in sink.messages
                        if b"Subject: Reminder:" in raw and rcpts[0].lower() in wanted
                    )
                if arrived >= APPOINTMENTS or not worker.alive():
                    break
                time.sleep(0.05)
            time.sleep(1.0)  # a duplicate sent just after the last one is seen
            worker_cpu = worker.cpu_seconds() - worker_cpu_before
    finally:
        beat.stop()
        worker.stop()

    with sink.lock:
        reminders = [
            (rcpts, at)
            for rcpts, raw, at in sink.messages
            if b"Subject: Reminder:" in raw and any(r.lower() in wanted for r in rcpts)
        ]
    counts: dict[str, int] = {}
    for rcpts, _ in reminders:
        for r in rcpts:
            counts[r.lower()] = counts.get(r.lower(), 0) + 1
    received = len(counts)
    duplicates = sum(n - 1 for n in counts.values())
    early = sum(1 for _, at in reminders if at < due_perf)
    failed = StepRun.objects.filter(status="failed").count()
    problems = []
    if booked != APPOINTMENTS:
        problems.append(f"only {booked} appointments booked")
    if received != APPOINTMENTS:
        problems.append(f"{APPOINTMENTS - received} reminders missing")
    if duplicates:
        problems.append(f"{duplicates} duplicate reminders")
    if early:
        problems.append(f"{early} reminders before the due time")
    if failed:
        problems.append(f"{failed} failed step runs")
    last_at = max((at for _, at in reminders), default=None)
    elapsed = last_at - due_perf if last_at is not None and received == APPOINTMENTS else None
    notes = [
        f"{booked} booked through POST /api/public/calendars/<slug>/bookings/ by "
        f"{booked_at:%H:%M:%S}, waits parked until {real_due:%H:%M:%S} ({minutes} min "
        f"before the start), {settled}; brought forward to {due:%H:%M:%S}",
        f"{parked_at_due} waits parked at the due time",
        worker.description + " + celery beat",
        f"worker CPU per reminder after the due time: {worker_cpu * 1000 / APPOINTMENTS:.1f} ms",
        f"{received} of {APPOINTMENTS} reminders arrived",
        "check: " + ("each reminder once, none early" if not problems else "; ".join(problems)),
    ]
    ok = elapsed is not None and elapsed < TARGET_SECONDS and not problems
    return [
        Row(
            name=ROW_NAME,
            issue=16,
            value=elapsed,
            unit="s",
            target=TARGET,
            status=verdict(ok),
            notes="; ".join(notes),
        )
    ]
