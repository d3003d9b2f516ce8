"""One function per measured row. Each returns its Row(s) and never lets one endpoint's
absence or failure stop the others (the caller also catches anything unexpected).

The machine is shared, so besides throughput every row reports what one request costs in
CPU (the app's processes and its PostgreSQL backends), which other work on the machine
disturbs far less, and the ceiling is measured again just before each row."""

import itertools
import json
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from bench import load
from bench.processes import process_cpu_seconds
from bench.report import FAIL, NA, PASS, Row, broken, unavailable, verdict
from bench.seed import Seeded, local_grid
from bench.stats import LoadResult, percentile

NOT_THERE = {404, 405, 501}
CEILING_PATH = "/api/ping/"
REFRESH_SECONDS = 3
ROUNDS = 3  # plain and link bookings alternate in this many rounds


@dataclass
class Cost:
    """What a measured run cost the server: CPU seconds of the app (gunicorn master and
    workers) and of its PostgreSQL backends, and connections opened to the database."""

    app: float = 0.0
    db: float = 0.0
    sessions: int | None = None

    def add(self, other: "Cost") -> None:
        self.app += other.app
        self.db += other.db
        if other.sessions is not None:
            self.sessions = (self.sessions or 0) + other.sessions

    def per_request_ms(self, requests: int) -> float | None:
        return (self.app + self.db) * 1000 / requests if requests and self.app else None


@dataclass
class Context:
    host: str
    port: int
    wrk: str | None
    concurrency: int
    duration: float
    seeded: Seeded
    now: datetime
    rng: random.Random
    log: Callable[[str], None] = print
    ceiling: LoadResult | None = None  # the ceiling row's run
    ceiling_now: float | None = None  # the ceiling's req/s measured just before this row
    ceiling_cpu_ms: float | None = None  # app + database CPU ms of one ceiling request
    # Wraps each measured load: `profile(name, pid=None)` is a context manager that samples
    # the server (or process `pid`) with py-spy when asked.
    profile: Callable = field(default=lambda name, pid=None: nullcontext())
    # The app server's CPU seconds so far (gunicorn master and workers); 0 when unknown.
    server_cpu: Callable[[], float] = field(default=lambda: 0.0)

    def fetch(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        return load.fetch(self.host, self.port, method, path, body, headers=headers)

    def fraction(self, rate: float) -> float | None:
        if not self.ceiling_now:
            return None
        return rate / self.ceiling_now


def _snippet(body: bytes, limit: int = 160) -> str:
    return body[:limit].decode("utf-8", "replace").replace("\n", " ")


def _ms(seconds: float) -> float:
    return seconds * 1000


def count_queries(
    method: str, path: str, body: bytes | None = None, *, warmup: tuple[str, bytes] | None = None
) -> str:
    """How many SQL queries one request costs, run in-process through Django's test client
    against the bench database (the same code the server runs). `warmup` (path, body), a
    POST sent first and not counted, fills the per-process caches (the calendar, its rules)
    as the server's long-running workers have them, so the count is the steady state's."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1", raise_request_exception=False)
    if warmup is not None:
        warm_path, warm_body = warmup
        client.post(warm_path, data=warm_body, content_type="application/json")
    with CaptureQueriesContext(connection) as captured:
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data=body, content_type="application/json")
    warm = ", warm process" if warmup is not None else ""
    return f"{len(captured.captured_queries)} queries/request (HTTP {response.status_code}{warm})"


def _pg_query(sql: str) -> list[tuple]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(sql)
        return cursor.fetchall()


def db_sessions() -> int | None:
    """Connections ever opened to the bench database (PostgreSQL's statistics): shows a
    server or worker that reconnects per request or task."""
    rows = _pg_query("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    return rows[0][0] if rows else None


def _backend_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend on the bench database but ours."""
    rows = _pg_query(
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return {pid: process_cpu_seconds(pid) for (pid,) in rows}


@contextmanager
def measuring(ctx: Context):
    """Yields a Cost that is filled in when the block ends."""
    cost = Cost()
    app, sessions, backends = ctx.server_cpu(), db_sessions(), _backend_cpu()
    try:
        yield cost
    finally:
        cost.app = ctx.server_cpu() - app
        after = _backend_cpu()
        # A backend that started during the run counts from zero.
        cost.db = sum(max(0.0, cpu - backends.get(pid, 0.0)) for pid, cpu in after.items())
        now = db_sessions()
        cost.sessions = now - sessions if now is not None and sessions is not None else None


def _cost_note(ctx: Context, cost: Cost, requests: int) -> str:
    per = cost.per_request_ms(requests)
    if per is None:
        return "CPU unknown"
    note = (
        f"CPU/request {per:.1f} ms (app {cost.app * 1000 / requests:.1f}"
        f" + PostgreSQL {cost.db * 1000 / requests:.1f})"
    )
    if ctx.ceiling_cpu_ms:
        note += f", {ctx.ceiling_cpu_ms / per:.2f}x the ceiling's by CPU"
    if cost.sessions:
        note += f"; {cost.sessions} new DB connections"
    return note


def _ceiling_note(ctx: Context) -> str:
    return f"vs ceiling {ctx.ceiling_now:,.0f} req/s just before" if ctx.ceiling_now else ""


def _run_get(ctx: Context, path: str, seconds: float) -> LoadResult:
    if ctx.wrk:
        url = f"http://{ctx.host}:{ctx.port}{path}"
        return load.run_wrk(ctx.wrk, url, concurrency=ctx.concurrency, duration=seconds)
    return load.run_python(
        ctx.host,
        ctx.port,
        concurrency=ctx.concurrency,
        duration=seconds,
        next_request=lambda: load.Request("GET", path),
    )


def _get_load(ctx: Context, path: str, name: str) -> tuple[LoadResult, Cost]:
    """A 1-second warm-up (each worker's first requests import and compile), then the run."""
    _run_get(ctx, path, 1)
    with ctx.profile(name), measuring(ctx) as cost:
        result = _run_get(ctx, path, ctx.duration)
    return result, cost


def refresh_ceiling(ctx: Context) -> None:
    """Measure the ceiling again, briefly, so that a row is compared with the machine as
    it is now: other work here comes and goes within a run."""
    if ctx.ceiling is None:
        return
    ctx.ceiling_now = _run_get(ctx, CEILING_PATH, REFRESH_SECONDS).rate


# -- issue 2: ceiling and slots API ------------------------------------------------------


def ceiling(ctx: Context, *, again: bool = False) -> list[Row]:
    """The framework's ceiling. Run again after the HTTP rows (`again`) to show how much
    the machine's other work moved it over the run."""
    name = "ceiling again, after the rows" if again else f"ceiling: GET {CEILING_PATH}"
    status, body = ctx.fetch("GET", CEILING_PATH)
    if status != 200:
        return [broken(name, 2, f"HTTP {status}: {_snippet(body)}")]
    result, cost = _get_load(ctx, CEILING_PATH, name)
    first = ctx.ceiling
    if not again:
        ctx.ceiling = result
        ctx.ceiling_now = result.rate
        ctx.ceiling_cpu_ms = cost.per_request_ms(result.requests)
    bad = result.unexpected(200)
    notes = [f"{result.requests} requests ({result.tool})", _cost_note(ctx, cost, result.requests)]
    if again and first is not None and first.rate:
        notes.append(f"{result.rate / first.rate:.2f}x the first ceiling run")
    if bad:
        notes.append(f"{bad} errors or non-200")
    return [
        Row(
            name=name,
            issue=2,
            value=result.rate,
            unit="req/s",
            p50_ms=_ms(result.p50),
            p99_ms=_ms(result.p99),
            fraction=result.rate / first.rate if again and first and first.rate else 1.0,
            target="reference",
            status=NA if not bad else FAIL,
            notes="; ".join(notes),
        )
    ]


def _tomorrow(ctx: Context, tz: str):
    return ctx.now.astimezone(ZoneInfo(tz)).date() + timedelta(days=1)


def _slots_path(slug: str, first, days: int) -> str:
    last = first + timedelta(days=days - 1)
    return f"/api/public/calendars/{slug}/slots/?start={first:%Y-%m-%d}&end={last:%Y-%m-%d}"


def _get_row(ctx: Context, *, name: str, issue: int, path: str, minimum: float, check=None) -> Row:
    """Probe the path once, then load it. `check(body) -> str` describes the answer."""
    target = f">= {Fraction(minimum).limit_denominator(100)} of ceiling"
    status, body = ctx.fetch("GET", path)
    if status in NOT_THERE:
        return unavailable(name, issue, f"GET {path.split('?')[0]} answers {status}", target=target)
    if status != 200:
        return broken(name, issue, f"HTTP {status}: {_snippet(body)}", target=target)
    described = check(body) if check else ""
    queries = count_queries("GET", path)
    refresh_ceiling(ctx)
    result, cost = _get_load(ctx, path, name)
    fraction = ctx.fraction(result.rate)
    bad = result.unexpected(200)
    notes = [f"{result.requests} requests ({result.tool})", queries]
    notes += [_cost_note(ctx, cost, result.requests), _ceiling_note(ctx)]
    if described:
        notes.append(described)
    if bad:
        notes.append(f"{bad} errors or non-200 answers")
    ok = fraction is not None and fraction >= minimum and not bad
    return Row(
        name=name,
        issue=issue,
        value=result.rate,
        unit="req/s",
        p50_ms=_ms(result.p50),
        p99_ms=_ms(result.p99),
        fraction=fraction,
        target=target,
        status=verdict(ok) if fraction is not None else NA,
        notes="; ".join(n for n in notes if n),
    )


def _count_slots(body: bytes) -> str:
    data = json.loads(body)
    slots = data.get("slots", {})
    return f"{sum(len(v) for v in slots.values())} free slots on {len(slots)} dates per answer"


def slots_rows(ctx: Context) -> list[Row]:
    seeded = ctx.seeded
    first = _tomorrow(ctx, seeded.slots_timezone)
    return [
        _get_row(
            ctx,
            name=f"slots API, {days} day{'s' if days > 1 else ''}",
            issue=2,
            path=_slots_path(seeded.slots_calendar, first, days),
            minimum=minimum,
            check=_count_slots,
        )
        for days, minimum in ((1, 1 / 3), (31, 1 / 6))
    ]


# -- issue 3: booking page ---------------------------------------------------------------------


def booking_page(ctx: Context) -> list[Row]:
    slug = ctx.seeded.booking_calendars[0]

    def check(body: bytes) -> str:
        return f"{len(body):,} bytes of HTML"

    return [
        _get_row(
            ctx,
            name="booking page GET /book/<slug>/",
            issue=3,
            path=f"/book/{slug}/",
            minimum=1 / 6,
            check=check,
        )
    ]


# -- issues 3 and 4: bookings and one-time link bookings -------------------------------------

PLAIN_NAME = "bookings/s, POST .../bookings/"
# Floors of issue 14: the plain-ORM booking path, far above any real installation's rate.
PLAIN_FLOOR = 1 / 25
LINK_FLOOR = 0.8
PLAIN_TARGET = ">= 1/25 of ceiling"
LINK_NAME = "link bookings/s, POST /api/public/links/<token>/bookings/"
LINK_TARGET = ">= 0.8x plain bookings/s"


def _free_slots(ctx: Context, slug: str, days: int = 60) -> tuple[list[str], bool]:
    """Free slot starts (ISO strings) of an empty bench calendar, from the slots API; when
    that API is not there yet, the calendar's grid computed here (it has no bookings)."""
    first = _tomorrow(ctx, "UTC")
    status, body = ctx.fetch("GET", _slots_path(slug, first, days))
    if status == 200:
        slots = json.loads(body)["slots"]
        return [start for day in sorted(slots) for start in slots[day]], True
    return [s.isoformat() for s in local_grid("UTC", first, days)], False


def _interleaved(per_calendar: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str]]:
    """Round-robin over the calendars, each calendar's slots in random order, so that
    neighbouring requests rarely wait on the same calendar's lock."""
    queues = {slug: rng.sample(starts, len(starts)) for slug, starts in per_calendar.items()}
    out: list[tuple[str, str]] = []
    for i in range(max((len(q) for q in queues.values()), default=0)):
        for slug, starts in queues.items():
            if i < len(starts):
                out.append((slug, starts[i]))
    return out


def _booking_body(n: int, start: str, who: str) -> bytes:
    # A fresh email per stream (`who`): plain and link rows both take the new-contact path,
    # so the link row is not charged for a returning-contact lookup the plain one skips.
    return json.dumps(
        {
            "start": start,
            "name": f"Bench Invitee {n}",
            "email": f"{who}-invitee{n}@bench.example",
            "timezone": "UTC",
        }
    ).encode()


def _probe_start(ctx: Context, hour: int) -> str:
    """A free time outside the slots the runs use (those end 60 days ahead)."""
    day = _tomorrow(ctx, "UTC") + timedelta(days=70)
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, tzinfo=UTC).isoformat()


def _status_note(statuses: Counter) -> str:
    return "answers " + ", ".join(f"{code or 'error'}: {n}" for code, n in sorted(statuses.items()))


@dataclass
class _Answered:
    calendar: str
    start: str
    status: int
    body: bytes
    tag: object = None


@dataclass
class _Stream:
    """Bookings on distinct free slots of `slugs`, run in pieces (warm-up, rounds) that
    draw from one plan, so that no slot is asked for twice."""

    name: str
    slugs: list[str]
    path_for: Callable[[str, int], tuple[str, object]]  # (slug, n) -> (path, tag)
    plan: list[tuple[str, str]]
    from_api: bool
    queries: str
    answered: list[_Answered] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cost: Cost = field(default_factory=Cost)
    warm_created: int = 0
    who: str = "plain"  # the invitee emails' prefix, distinct per stream

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cursor = iter(enumerate(self.plan))

    @property
    def exhausted(self) -> bool:
        return len(self.answered) >= len(self.plan)

    def _next(self) -> load.Request | None:
        with self._lock:
            item = next(self._cursor, None)
        if item is None:
            return None
        n, (slug, start) = item
        path, tag = self.path_for(slug, n)
        body = _booking_body(n, start, self.who)
        return load.Request("POST", path, body, tag=(slug, start, tag))

    def _on_answer(self, answer: load.Answer) -> None:
        slug, start, tag = answer.request.tag
        self.answered.append(_Answered(slug, start, answer.status, answer.body, tag))

    def run(self, ctx: Context, seconds: float, *, measured: bool, profile: bool = False):
        def go() -> LoadResult:
            return load.run_python(
                ctx.host,
                ctx.port,
                concurrency=ctx.concurrency,
                duration=seconds,
                next_request=self._next,
                on_answer=self._on_answer,
            )

        if not measured:
            result = go()
            self.warm_created += result.statuses.get(201, 0)
            return
        with ctx.profile(self.name) if profile else nullcontext(), measuring(ctx) as cost:
            result = go()
        self.cost.add(cost)
        self.seconds += result.duration
        self.latencies += result.latencies
        self.statuses.update(result.statuses)
        if result.errors:
            self.statuses[0] += result.errors

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    def notes(self, ctx: Context, problems: list[str], ok_text: str) -> list[str]:
        notes = [
            f"{self.created} booked on {len(self.slugs)} calendars,"
            f" concurrency {ctx.concurrency}, {ROUNDS} rounds",
            self.queries,
            _cost_note(ctx, self.cost, sum(self.statuses.values())),
            _status_note(self.statuses),
        ]
        if not self.from_api:
            notes.append("free slots computed by the bench (slots API not available)")
        if self.exhausted:
            notes.append("ran out of prepared slots or links")
        notes.append("check: " + ("; ".join(problems) if problems else ok_text))
        return notes


def _plan(ctx: Context, slugs: list[str]) -> tuple[list[tuple[str, str]], bool]:
    per_calendar, from_api = {}, True
    for slug in slugs:
        per_calendar[slug], ok = _free_slots(ctx, slug)
        from_api = from_api and ok
    return _interleaved(per_calendar, ctx.rng), from_api


def _plain_stream(ctx: Context) -> "_Stream | Row":
    slugs = ctx.seeded.booking_calendars
    # One booking first: is the endpoint there, and does it book? Its slot is outside the
    # plan; a second one, in-process, counts the queries.
    path = f"/api/public/calendars/{slugs[0]}/bookings/"
    status, body = ctx.fetch("POST", path, _booking_body(10**9, _probe_start(ctx, 12), "plain"))
    if status in NOT_THERE:
        return unavailable(PLAIN_NAME, 3, f"POST answers {status}", target=PLAIN_TARGET)
    if status != 201:
        reason = f"probe booking got HTTP {status}: {_snippet(body)}"
        return broken(PLAIN_NAME, 3, reason, target=PLAIN_TARGET)
    queries = count_queries(
        "POST",
        path,
        _booking_body(10**9 + 1, _probe_start(ctx, 13), "plain"),
        warmup=(path, _booking_body(10**9 + 2, _probe_start(ctx, 14), "plain")),
    )
    plan, from_api = _plan(ctx, slugs)

    def path_for(slug: str, n: int) -> tuple[str, object]:
        return f"/api/public/calendars/{slug}/bookings/", None

    return _Stream(PLAIN_NAME, slugs, path_for, plan, from_api, queries)


def _link_services():
    """The one-time link service, or the reason it is not usable yet."""
    try:
        from bookings.services.one_time_links import one_time_link_generate, one_time_link_url
    except ImportError as exc:
        return None, f"one_time_link_generate not importable ({exc})"
    return (one_time_link_generate, one_time_link_url), ""


def _make_links(slug: str, count: int, label: str) -> list[tuple[int, str]]:
    """(link id, token) pairs made through the service, the token read from its URL."""
    from calendars.models import Calendar

    generate, url = _link_services()[0]
    calendar = Calendar.objects.get(slug=slug)
    links = []
    for n in range(count):
        link = generate(calendar=calendar, label=f"{label} {n}")
        links.append((link.pk, url(link=link).rstrip("/").rsplit("/", 1)[-1]))
    return links


def _link_stream(ctx: Context, wanted: int) -> "_Stream | Row":
    services, reason = _link_services()
    if services is None:
        return unavailable(LINK_NAME, 4, reason, target=LINK_TARGET)
    slugs = ctx.seeded.link_calendars
    try:
        probe = _make_links(slugs[0], 3, "probe")
    except NotImplementedError:
        reason = "one_time_link_generate raises NotImplementedError"
        return unavailable(LINK_NAME, 4, reason, target=LINK_TARGET)
    path = f"/api/public/links/{probe[0][1]}/bookings/"
    status, body = ctx.fetch("POST", path, _booking_body(10**9, _probe_start(ctx, 12), "link"))
    if status in NOT_THERE:
        return unavailable(LINK_NAME, 4, f"POST answers {status}", target=LINK_TARGET)
    if status != 201:
        reason = f"probe booking got HTTP {status}: {_snippet(body)}"
        return broken(LINK_NAME, 4, reason, target=LINK_TARGET)
    queries = count_queries(
        "POST",
        f"/api/public/links/{probe[1][1]}/bookings/",
        _booking_body(10**9 + 1, _probe_start(ctx, 13), "link"),
        warmup=(
            f"/api/public/links/{probe[2][1]}/bookings/",
            _booking_body(10**9 + 2, _probe_start(ctx, 14), "link"),
        ),
    )
    per_calendar = -(-wanted // len(slugs))
    links = {slug: _make_links(slug, per_calendar, "bench") for slug in slugs}
    plan, from_api = _plan(ctx, slugs)
    plan = plan[: per_calendar * len(slugs)]  # round-robin: per_calendar of each
    used: Counter[str] = Counter()
    lock = threading.Lock()

    def path_for(slug: str, n: int) -> tuple[str, object]:
        with lock:
            i = used[slug]
            used[slug] += 1
        link_id, token = links[slug][i]
        return f"/api/public/links/{token}/bookings/", link_id

    return _Stream(LINK_NAME, slugs, path_for, plan, from_api, queries, who="link")


def booking_rows(ctx: Context, *, plain: bool = True, links: bool = True) -> list[Row]:
    """Plain bookings and bookings through distinct one-time links, measured in alternating
    rounds so that both see the same machine (the link target is relative to plain)."""
    rows: list[Row] = []
    streams: list[_Stream] = []
    plain_stream = link_stream = None
    estimate = None
    if plain:
        made = _plain_stream(ctx)
        if isinstance(made, Row):
            rows.append(made)
        else:
            plain_stream = made
            plain_stream.run(ctx, 1, measured=False)  # warm-up, and a first rate
            estimate = plain_stream.warm_created
            streams.append(plain_stream)
    if links:
        # Enough links for warm-up and rounds at about the plain rate, with room to spare.
        rate = estimate if estimate else 100
        wanted = min(8_000, int(rate * (ctx.duration + 1) * 2) + 200)
        made = _link_stream(ctx, wanted)
        if isinstance(made, Row):
            rows.append(made)
        else:
            link_stream = made
            link_stream.run(ctx, 1, measured=False)
            streams.append(link_stream)
    if not streams:
        return rows

    refresh_ceiling(ctx)
    for round_ in range(ROUNDS):
        for stream in streams:
            stream.run(ctx, ctx.duration / ROUNDS, measured=True, profile=round_ == 0)

    if plain_stream is not None:
        problems = _check_stored(plain_stream.slugs, plain_stream.answered)
        unexpected = sum(n for code, n in plain_stream.statuses.items() if code != 201)
        fraction = ctx.fraction(plain_stream.rate)
        notes = plain_stream.notes(ctx, problems, "no overlaps, every 201 stored")
        notes.append(_ceiling_note(ctx))
        ok = fraction is not None and fraction >= PLAIN_FLOOR and not problems and not unexpected
        rows.insert(0, _stream_row(plain_stream, 3, PLAIN_TARGET, fraction, ok, notes))
    if link_stream is not None:
        problems = _check_stored(link_stream.slugs, link_stream.answered)
        problems += _check_links(link_stream.answered)
        unexpected = sum(n for code, n in link_stream.statuses.items() if code != 201)
        ratio = link_stream.rate / plain_stream.rate if plain_stream and plain_stream.rate else None
        notes = link_stream.notes(ctx, problems, "no overlaps, every 201 stored and its link used")
        notes.append(
            f"{ratio:.2f}x plain bookings/s (same rounds, both with new invitee emails)"
            if ratio is not None
            else "no plain bookings/s to compare with"
        )
        ok = ratio is not None and ratio >= LINK_FLOOR and not problems and not unexpected
        row = _stream_row(link_stream, 4, LINK_TARGET, ctx.fraction(link_stream.rate), ok, notes)
        if ratio is None:
            row.status = NA
        rows.append(row)
    return rows


def _stream_row(
    stream: _Stream, issue: int, target: str, fraction: float | None, ok: bool, notes: list[str]
) -> Row:
    return Row(
        name=stream.name,
        issue=issue,
        value=stream.rate,
        unit="bookings/s",
        p50_ms=_ms(percentile(stream.latencies, 50)),
        p99_ms=_ms(percentile(stream.latencies, 99)),
        fraction=fraction,
        target=target,
        status=verdict(ok) if fraction is not None else NA,
        notes="; ".join(n for n in notes if n),
    )


def _check_stored(slugs: list[str], answered: list[_Answered]) -> list[str]:
    """Problems found in the database after a booking run: overlapping confirmed bookings
    on one calendar, a 201-answered booking that is not stored (or not at its start)."""
    from bookings.models import Booking

    problems = []
    rows = Booking.objects.filter(calendar__slug__in=slugs, status="confirmed").values_list(
        "id", "calendar__slug", "start", "end"
    )
    stored = {pk: (slug, start) for pk, slug, start, _ in rows}
    by_calendar: defaultdict[str, list] = defaultdict(list)
    for _, slug, start, end in rows:
        by_calendar[slug].append((start, end))
    overlaps = 0
    for spans in by_calendar.values():
        spans.sort()
        overlaps += sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    if overlaps:
        problems.append(f"{overlaps} overlapping confirmed bookings")
    missing = wrong = 0
    for answer in answered:
        if answer.status != 201:
            continue
        try:
            pk = json.loads(answer.body)["id"]
        except (ValueError, KeyError, TypeError):
            missing += 1
            continue
        if pk not in stored:
            missing += 1
        elif stored[pk][0] != answer.calendar or stored[pk][1] != datetime.fromisoformat(
            answer.start
        ):
            wrong += 1
    if missing:
        problems.append(f"{missing} answered 201 but not stored as confirmed")
    if wrong:
        problems.append(f"{wrong} stored on another calendar or time than asked")
    return problems


def _check_links(answered: list[_Answered]) -> list[str]:
    """Every 201 used its link for that booking; every other answer left its link active."""
    from django.db.models import F

    from bookings.models import OneTimeLink

    ids = [a.tag for a in answered]
    links = {
        link.pk: link
        for link in OneTimeLink.objects.filter(pk__in=ids).annotate(booking_id=F("bookings"))
    }
    wrong = 0
    for answer in answered:
        link = links.get(answer.tag)
        if link is None:
            wrong += 1
        elif answer.status == 201:
            wrong += link.used_at is None or link.booking_id != json.loads(answer.body).get("id")
        else:
            wrong += link.used_at is not None
    return [f"{wrong} links in the wrong state"] if wrong else []


def link_contention(ctx: Context, attempts: int = 50) -> list[Row]:
    name = f"one link, {attempts} concurrent attempts"
    target = "exactly 1 success"
    services, reason = _link_services()
    if services is None:
        return [unavailable(name, 4, reason, target=target)]
    slug = ctx.seeded.contention_calendar
    try:
        [(link_id, token)] = _make_links(slug, 1, "contention")
    except NotImplementedError:
        return [
            unavailable(name, 4, "one_time_link_generate raises NotImplementedError", target=target)
        ]
    starts, _ = _free_slots(ctx, slug, days=7)
    path = f"/api/public/links/{token}/bookings/"
    requests = [
        load.Request("POST", path, _booking_body(n, start, "contention"))
        for n, start in enumerate(ctx.rng.sample(starts, attempts))
    ]
    answers = load.run_burst(ctx.host, ctx.port, requests)
    statuses = Counter(a.status for a in answers)
    if statuses.get(404, 0) + statuses.get(405, 0) + statuses.get(501, 0) == attempts:
        return [unavailable(name, 4, f"POST {_status_note(statuses)}", target=target)]
    latencies = [a.latency for a in answers]
    successes = statuses.get(201, 0)

    from bookings.models import Booking, OneTimeLink

    link = OneTimeLink.objects.get(pk=link_id)
    stored = Booking.objects.filter(calendar__slug=slug, status="confirmed").count()
    problems = []
    if stored != successes:
        problems.append(f"{stored} confirmed bookings stored")
    if successes and link.used_at is None:
        problems.append("link not marked used")
    losers_ok = statuses.get(410, 0) == attempts - successes
    ok = successes == 1 and losers_ok and not problems
    notes = [_status_note(statuses) + " (the others must get 410)"]
    notes.append(
        "check: " + ("1 booking stored, link used" if not problems else "; ".join(problems))
    )
    return [
        Row(
            name=name,
            issue=4,
            value=successes,
            unit=f"successes of {attempts}",
            p50_ms=_ms(percentile(latencies, 50)),
            p99_ms=_ms(percentile(latencies, 99)),
            target=target,
            status=PASS if ok else FAIL,
            notes="; ".join(notes),
        )
    ]
