"""Issue 5's row: 1,000 contacts enter a published link-and-email workflow; how long until
all 1,000 emails reach a local SMTP sink, with one Celery worker on Redis."""

import email
import json
import re
import threading
import time
from email.message import Message
from pathlib import Path

from bench import load
from bench.processes import CeleryWorker, SmtpSink
from bench.report import Row, broken, unavailable, verdict
from bench.rows import db_sessions

CONTACTS = 1_000
ROW_NAME = f"workflow: {CONTACTS:,} contacts -> link + email"
TARGET_SECONDS = 60
TARGET = f"< {TARGET_SECONDS} s"
# Past the target the row still waits a while, to report how long draining really takes.
GIVE_UP_SECONDS = 180
NOT_THERE = {404, 405, 501}
SUBJECT = "Pick a time"
BODY = "Hi {{ contact.first_name }}, book here: {{ link.url }}"


def _address(n: int) -> str:
    return f"wf{n}@bench.example"


def _text_of(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    texts = []
    for part in parts:
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(texts)


def link_tokens(raw: bytes, site_url: str) -> set[str]:
    """The one-time link tokens (last path segment of SITE_URL/l/<token>/) in an email."""
    text = _text_of(email.message_from_bytes(raw))
    return set(re.findall(re.escape(site_url) + r"/l/([A-Za-z0-9_-]+)/", text))


def _spec(calendar_id: int) -> dict:
    return {
        "name": "Bench: send a booking link",
        "status": "published",
        "trigger": {"type": "contact_created", "config": {}},
        "actions": [
            {"key": "link", "type": "generate_one_time_link", "config": {"calendar": calendar_id}},
            {"key": "email", "type": "send_email", "config": {"subject": SUBJECT, "body": BODY}},
        ],
    }


def _publish(ctx, headers: dict, spec: dict) -> tuple[str | None, str]:
    """Create the published workflow through the API (the issue's shape), or through the
    services while the API is not there. (how, problem)"""
    status, body = ctx.fetch("POST", "/api/workflows/", json.dumps(spec).encode(), headers)
    if status == 201:
        return "API", ""
    if status not in NOT_THERE:
        return None, f"POST /api/workflows/ got HTTP {status}: {body[:300]!r}"
    try:
        from django.contrib.auth import get_user_model

        from workflows.services import workflow_save
        from workflows.validation import validate_workflow
    except ImportError as exc:
        return None, f"no workflow API ({status}) and no services ({exc})"
    owner = get_user_model().objects.get(pk=ctx.seeded.owner_id)
    clean = validate_workflow(
        status=spec["status"], trigger=spec["trigger"], actions=spec["actions"], user=owner
    )
    workflow_save(workflow=None, name=spec["name"], status=spec["status"], clean=clean, user=owner)
    return "services", ""


def _enter_contacts(ctx, headers: dict) -> tuple[str, int]:
    """1,000 contacts through POST /api/contacts/ (8 at a time), else contact_create."""
    # An empty body: 400 says the endpoint is there, without making a contact.
    status, _ = ctx.fetch("POST", "/api/contacts/", b"{}", headers)
    if status == 400:
        lock = threading.Lock()
        numbers = iter(range(CONTACTS))
        statuses: dict[int, int] = {}

        def next_request() -> load.Request | None:
            with lock:
                n = next(numbers, None)
            if n is None:
                return None
            payload = {"first_name": f"Bench{n}", "last_name": "Contact", "email": _address(n)}
            return load.Request(
                "POST",
                "/api/contacts/",
                json.dumps(payload).encode(),
                headers=tuple(headers.items()),
            )

        result = load.run_python(
            ctx.host,
            ctx.port,
            concurrency=8,
            duration=GIVE_UP_SECONDS,
            next_request=next_request,
        )
        statuses = result.statuses
        return "POST /api/contacts/", statuses.get(201, 0)
    from django.contrib.auth import get_user_model

    from contacts.services import contact_create

    # The workflow owner's contacts, as the API files them under the token's user.
    owner = get_user_model().objects.get(pk=ctx.seeded.owner_id)
    for n in range(CONTACTS):
        contact_create(
            owner=owner,
            email=_address(n),
            origin="api",
            first_name=f"Bench{n}",
            last_name="Contact",
        )
    return "contact_create service", CONTACTS


def workflow_row(ctx, *, sink: SmtpSink, env: dict, run_dir: Path) -> list[Row]:
    try:
        from workflows.models import StepRun, Workflow  # noqa: F401
    except ImportError as exc:
        return [unavailable(ROW_NAME, 5, f"workflows models ({exc})", target=TARGET)]
    import redis
    from django.contrib.auth import get_user_model

    from accounts.services import api_token_create
    from bookings.models import OneTimeLink
    from calendars.models import Calendar

    calendar = Calendar.objects.get(slug=ctx.seeded.workflow_calendar)
    # Only a digest is stored: a new token per run (the previous run's are revoked).
    owner = get_user_model().objects.get(pk=ctx.seeded.owner_id)
    _token, key = api_token_create(user=owner, name="bench", replace=True)
    headers = {"Authorization": f"Token {key}"}
    how, problem = _publish(ctx, headers, _spec(calendar.pk))
    if how is None:
        return [broken(ROW_NAME, 5, problem, target=TARGET)]

    # Earlier rows queued booking emails in the bench's own Redis database; without a
    # worker they wait there. Drop them so that the worker drains the workflow alone.
    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
    sink.clear()
    worker = CeleryWorker(env=env, log_path=run_dir / "celery.log")
    worker.start()
    try:
        worker.wait_ready()
        sessions_before, server_cpu_before = db_sessions(), ctx.server_cpu()
        with ctx.profile(ROW_NAME + " server"), ctx.profile(ROW_NAME + " worker", worker.pid):
            began = time.perf_counter()
            entered_by, entered = _enter_contacts(ctx, headers)
            entered_after = time.perf_counter() - began
            wanted = {_address(n) for n in range(CONTACTS)}
            while time.perf_counter() - began < GIVE_UP_SECONDS:
                with sink.lock:
                    arrived = sum(1 for r in wanted if sink.by_recipient.get(r))
                if arrived >= CONTACTS or not worker.alive():
                    break
                time.sleep(0.05)
        # A moment more, so that a duplicate sent just after the last one is seen.
        time.sleep(1.0)
        worker_cpu = worker.cpu_seconds()
        server_cpu = ctx.server_cpu() - server_cpu_before
        sessions_after = db_sessions()
    finally:
        worker.stop()

    with sink.lock:
        messages = [
            (rcpts, raw, at)
            for rcpts, raw, at in sink.messages
            if any(r.lower() in wanted for r in rcpts)
        ]
        counts = {r: sink.by_recipient.get(r, 0) for r in wanted}
    received = sum(1 for n in counts.values() if n)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    last_at = max((at for _, _, at in messages), default=None)
    tokens: list[str] = []
    site_url = env["SITE_URL"]
    for _, raw, _ in messages:
        tokens.extend(link_tokens(raw, site_url))
    links_made = OneTimeLink.objects.filter(calendar=calendar).count()
    failed = StepRun.objects.filter(status="failed").count() if hasattr(StepRun, "status") else 0

    problems = []
    if entered != CONTACTS:
        problems.append(f"only {entered} contacts entered")
    if received != CONTACTS:
        problems.append(f"{CONTACTS - received} contacts got no email")
    if duplicates:
        problems.append(f"{duplicates} duplicate emails")
    if len(set(tokens)) != received or len(tokens) != len(messages):
        problems.append(f"{len(set(tokens))} distinct links in {len(messages)} emails")
    if failed:
        problems.append(f"{failed} failed step runs")
    elapsed = (last_at - began) if last_at is not None and received == CONTACTS else None
    notes = [
        f"workflow made through {how}, contacts entered through {entered_by} "
        f"in {entered_after:.1f} s",
        worker.description,
        f"CPU per contact: worker {worker_cpu * 1000 / CONTACTS:.1f} ms, "
        f"server {server_cpu * 1000 / CONTACTS:.1f} ms",
        f"{received} of {CONTACTS} emails arrived, {len(set(tokens))} distinct links, "
        f"{links_made} links stored",
    ]
    if sessions_before is not None and sessions_after is not None:
        notes.append(f"{sessions_after - sessions_before} new DB connections")
    if elapsed is None:
        notes.append(f"gave up waiting after {GIVE_UP_SECONDS} s")
    notes.append(
        "check: "
        + ("each email once, every link distinct" if not problems else "; ".join(problems))
    )
    ok = elapsed is not None and elapsed < TARGET_SECONDS and not problems
    return [
        Row(
            name=ROW_NAME,
            issue=5,
            value=elapsed,
            unit="s",
            target=TARGET,
            status=verdict(ok),
            notes="; ".join(notes),
        )
    ]
