"""`make bench`: throughput and latency of Onceslot served by gunicorn against PostgreSQL.

Drops and recreates its own database, seeds it, starts gunicorn (DEBUG off, no throttling,
no access log) on a free loopback port, loads each endpoint for a fixed time at a fixed
concurrency, checks what was written, and prints a table (JSON in bench/results/). Exit 0
when it measured, even if targets fail; non-zero only when the bench itself broke.

Environment: BENCH_DATABASE_URL (default: DATABASE_URL's server, database onceslot_bench),
BENCH_REDIS_URL (a Redis database the bench may empty; default redis://127.0.0.1:6379/15),
BENCH_DURATION, BENCH_CONCURRENCY, BENCH_GUNICORN_ARGS, BENCH_PYSPY (for --profile)."""

import argparse
import fcntl
import os
import platform
import random
import secrets
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.profile import find_pyspy, profiling
from bench.report import Row, broken, format_table, prune, unavailable, write_results

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/onceslot_bench"
# A Redis database of its own: the bench empties it before the workflow row.
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
GROUPS = (
    "slots",
    "page",
    "bookings",
    "links",
    "contention",
    "workflow",
    "reminders",
    "engine",
    "sweeps",
    "connected",
    "connected-sync",
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_database_url() -> str:
    """BENCH_DATABASE_URL, else the server and user of DATABASE_URL with the database name
    onceslot_bench, else the local default."""
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://", "pgsql://")):
        return urlunsplit(urlsplit(base)._replace(path="/onceslot_bench", query=""))
    return DEFAULT_DB


def bench_environment(*, port: int, smtp_port: int, database_url: str, redis_url: str) -> dict:
    """The variables the harness and the server share (settings read them at import)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="off",
        # One key per run, the same in harness and server: link tokens are HMACs under it.
        SECRET_KEY=secrets.token_urlsafe(50),
        SECRET_KEY_FALLBACKS="",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_TASK_ALWAYS_EAGER="off",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SITE_URL=f"http://127.0.0.1:{port}",
        THROTTLE_PUBLIC_RATE="none",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        LOG_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",
        # The connected-calendar sync row reads a Radicale on loopback.
        CALENDAR_CONNECTION_ALLOW_PRIVATE="on",
    )
    return env


def _exclusive(database_url: str, wait: float = 600):
    """Hold a lock named after the bench database for the whole run: a second `make bench`
    on the same database waits instead of dropping it under the first one's server."""
    name = urlsplit(database_url).path.lstrip("/") or "onceslot_bench"
    # In the system's temp directory: runs from other work trees share the database too.
    path = Path(tempfile.gettempdir()) / f"{name}.bench.lock"
    handle = path.open("w")
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"another bench run has held {name} for {wait:.0f} s") from None
            if not told:
                log(f"another bench run is using the database {name}; waiting for it")
                told = True
            time.sleep(1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("BENCH_DURATION", 6)),
        help="seconds of load per row (default 6)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("BENCH_CONCURRENCY", 16)),
        help="concurrent connections per row (default 16)",
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated groups to run, of: {', '.join(GROUPS)} (the ceiling always runs)",
    )
    parser.add_argument(
        "--no-wrk", action="store_true", help="use the Python load generator for GETs too"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during each row (BENCH_PYSPY or PATH)",
    )
    parser.add_argument("--seed", type=int, default=20_240_601, help="random seed for the data")
    args = parser.parse_args(argv)
    args.groups = set(args.only.split(",")) - {""} if args.only else set(GROUPS)
    unknown = args.groups - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    return args


def _check_redis(url: str) -> None:
    """The server enqueues booking emails on the broker and the workflow row needs it."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis at {url} does not answer (set BENCH_REDIS_URL): {exc}") from exc


def _postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def _engine_rows() -> list[Row]:
    try:
        from bench.engine import engine_rows
    except ModuleNotFoundError as exc:
        if exc.name != "bench.engine":
            raise
        return [unavailable("availability engine (bench/engine.py)", 2, "bench/engine.py")]
    rows = []
    for item in engine_rows():
        rows.append(
            Row(
                name=str(item.get("row", "engine")),
                issue=2,
                value=item.get("value"),
                unit=str(item.get("unit", "")),
                target=str(item.get("target", "")),
                status=str(item.get("status", "n/a")),
                notes=str(item.get("note", "")),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
    run_dir = RESULTS / stamp
    run_dir.mkdir(parents=True, exist_ok=True)

    from bench.processes import Gunicorn, SmtpSink, free_port

    port, smtp_port = free_port(), free_port()
    database_url = bench_database_url()
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = bench_environment(
        port=port, smtp_port=smtp_port, database_url=database_url, redis_url=redis_url
    )
    os.environ.update(env)
    lock = _exclusive(database_url)

    from bench import database, load, seed
    from bench.rows import Context

    server = Gunicorn(port=port, env=env, log_path=run_dir / "gunicorn.log")
    sink = SmtpSink(smtp_port)
    rows: list[Row] = []
    harness_errors = 0
    meta: dict = {}
    try:
        log(f"database {urlsplit(database_url).path.lstrip('/')}: drop, create, build schema")
        database.recreate_database(database_url)
        import django

        django.setup()
        database.build_schema()
        now = datetime.now(UTC)
        rng = random.Random(args.seed)
        log("seeding calendars and 2,000 bookings")
        seeded = seed.seed(now=now, rng=rng)
        if "connected" in args.groups:
            from bench.connected import seed_connected

            log("seeding the connected-calendar calendar: 2,000 bookings, 2,000 busy intervals")
            seed_connected(now=now, rng=rng)
        _check_redis(redis_url)
        wrk = None if args.no_wrk else load.ensure_wrk()
        sink.start()
        log(f"starting {server.description} on 127.0.0.1:{port}")
        server.start()
        meta = {
            "started_at": now.isoformat(),
            "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
            "load_average_at_start": os.getloadavg(),
            "server": f"{server.description}, DEBUG off, no access log",
            "database": _postgres_version(),
            "get_load": f"wrk -t2 -c{args.concurrency}"
            if wrk
            else f"Python threads, {args.concurrency} keep-alive connections",
            "post_load": f"Python threads, {args.concurrency} keep-alive connections",
            "seconds_per_row": args.duration,
        }
        ctx = Context(
            host="127.0.0.1",
            port=port,
            wrk=wrk,
            concurrency=args.concurrency,
            duration=args.duration,
            seeded=seeded,
            now=now,
            rng=rng,
            log=log,
        )
        ctx.server_cpu = server.cpu_seconds
        if args.profile:
            pyspy = find_pyspy()
            if pyspy is None:
                log("--profile: py-spy not found (set BENCH_PYSPY), measuring without it")
            else:
                ctx.profile = partial(
                    profiling, pyspy=pyspy, master_pid=server.process.pid, run_dir=run_dir
                )
        harness_errors += _run_rows(ctx, args.groups, rows, run_dir, server, sink, env)
    except Exception:
        (run_dir / "error.log").write_text(traceback.format_exc())
        log(f"the bench broke during set-up:\n{traceback.format_exc()}\n{server.log_tail()}")
        return 2
    finally:
        server.stop()
        sink.stop()
        lock.close()

    if "engine" in args.groups:
        log("engine rows")
        try:
            rows.extend(_engine_rows())
        except Exception as exc:
            harness_errors += 1
            rows.append(broken("availability engine (bench/engine.py)", 2, repr(exc)))

    print(_header(meta))
    print(format_table(rows))
    path = write_results(RESULTS, stamp=stamp, meta=meta, rows=rows)
    prune(RESULTS)
    print(
        f"\nresults: {path.relative_to(RESULTS.parent.parent)}; server log: "
        f"{(run_dir / 'gunicorn.log').relative_to(RESULTS.parent.parent)}"
    )
    return 1 if harness_errors else 0


def _header(meta: dict) -> str:
    load1, load5, _ = meta.get("load_average_at_start", (0, 0, 0))
    return "\n".join(
        [
            "",
            f"Onceslot bench, {meta.get('started_at', '')[:19]} UTC, {meta.get('machine', '')}",
            "Server and load generator share this 2-core machine on loopback: the numbers are",
            "  lower than on separate hosts, and other work here skews them (load average at"
            f" start "
            f"{load1:.1f}/{load5:.1f}).",
            f"Server: {meta.get('server', '')}; {meta.get('database', '')}.",
            f"Load: GETs by {meta.get('get_load', '')}, POSTs by {meta.get('post_load', '')}; "
            f"{meta.get('seconds_per_row', 0):g} s per row after a 1 s warm-up.",
            "x ceiling: the row's throughput over the ceiling's, re-measured just before the row;"
            " verdicts use it.",
            '"by CPU" in the notes: the ceiling\'s CPU per request (app + PostgreSQL) over the'
            " row's, which the machine's other work disturbs less.",
            "",
        ]
    )


def _run_rows(ctx, groups, rows, run_dir, server, sink, env) -> int:
    """Each row on its own: a crash in one is recorded and the next one runs."""
    from bench import connected, reminders, sweeps, workflow
    from bench import rows as measure

    plan: list[tuple[str, str, int, Callable]] = [
        ("ceiling", "ceiling: GET /api/ping/", 2, measure.ceiling),
        ("slots", "slots API", 2, measure.slots_rows),
        ("page", "booking page", 3, measure.booking_page),
        (
            "bookings" if "bookings" in groups else "links",
            "bookings/s and link bookings/s",
            3,
            partial(measure.booking_rows, plain="bookings" in groups, links="links" in groups),
        ),
        ("contention", "one link, 50 concurrent attempts", 4, measure.link_contention),
        ("connected", "slots API with connected calendars", 15, connected.slots_rows),
        ("connected-sync", "sync of a CalDAV calendar", 15, connected.sync_row),
        ("ceiling", "ceiling again", 2, partial(measure.ceiling, again=True)),
        (
            "workflow",
            workflow.ROW_NAME,
            5,
            lambda c: workflow.workflow_row(c, sink=sink, env=env, run_dir=run_dir),
        ),
        (
            "reminders",
            reminders.ROW_NAME,
            16,
            lambda c: reminders.reminders_row(c, sink=sink, env=env, run_dir=run_dir),
        ),
        # Last: it fills the step and outbox tables with 200,000 finished rows.
        ("sweeps", "recovery sweeps' database time", 19, sweeps.sweep_rows),
    ]
    errors = 0
    for group, name, issue, function in plan:
        if group != "ceiling" and group not in groups:
            continue
        ctx.log(name)
        try:
            rows.extend(function(ctx))
        except Exception as exc:
            errors += 1
            with (run_dir / "error.log").open("a") as out:
                out.write(f"--- {name}\n{traceback.format_exc()}\n")
            rows.append(broken(name, issue, f"{type(exc).__name__}: {exc}"[:200]))
        if server.process is not None and server.process.poll() is not None:
            rows.append(broken("server", None, f"gunicorn died:\n{server.log_tail()}"))
            errors += 1
            break
    return errors
