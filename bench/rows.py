"""One function per measured row. Each returns its Row(s) and never lets one endpoint's
absence or failure stop the others (the caller also catches anything unexpected)."""

import itertools
import json
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bench import load
from bench.report import FAIL, NA, PASS, Row, broken, unavailable, verdict
from bench.seed import Seeded, local_grid
from bench.stats import LoadResult, percentile

NOT_THERE = {404, 405, 501}


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
    ceiling: LoadResult | None = None
    plain_bookings_rate: float | None = None
    plain_bookings_count: int = 0
    # Wraps each measured load: `profile(name, pid=None)` is a context manager that samples
    # the server (or process `pid`) with py-spy when asked.
    profile: Callable = field(default=lambda name, pid=None: nullcontext())
    # The server's CPU seconds so far (gunicorn master and workers); 0 when unknown.
    server_cpu: Callable[[], float] = field(default=lambda: 0.0)
    last_cpu: float = 0.0  # server CPU seconds spent in the last measured run

    def fetch(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        return load.fetch(self.host, self.port, method, path, body, headers=headers)

    def fraction(self, rate: float) -> float | None:
        if self.ceiling is None or self.ceiling.rate <= 0:
            return None
        return rate / self.ceiling.rate


def _snippet(body: bytes, limit: int = 160) -> str:
    return body[:limit].decode("utf-8", "replace").replace("\n", " ")


def count_queries(method: str, path: str, body: bytes | None = None) -> str:
    """How many SQL queries one request costs, run in-process through Django's test client
    against the bench database (the same code the server runs), e.g. "5 queries"."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1", raise_request_exception=False)
    with CaptureQueriesContext(connection) as captured:
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data=body, content_type="application/json")
    return f"{len(captured.captured_queries)} queries/request (HTTP {response.status_code})"


@contextmanager
def _cpu(ctx: Context):
    before = ctx.server_cpu()
    try:
        yield
    finally:
        ctx.last_cpu = ctx.server_cpu() - before


def _cpu_note(ctx: Context, requests: int) -> str:
    if not ctx.last_cpu or not requests:
        return "server CPU unknown"
    return f"server CPU {ctx.last_cpu * 1000 / requests:.1f} ms/request"


def _ms(seconds: float) -> float:
    return seconds * 1000


def _get_load(ctx: Context, path: str, name: str) -> LoadResult:
    """A 1-second warm-up (each worker's first requests import and compile), then the run."""
    if ctx.wrk:
        url = f"http://{ctx.host}:{ctx.port}{path}"
        load.run_wrk(ctx.wrk, url, concurrency=ctx.concurrency, duration=1)
        with ctx.profile(name), _cpu(ctx):
            return load.run_wrk(ctx.wrk, url, concurrency=ctx.concurrency, duration=ctx.duration)

    def same() -> load.Request:
        return load.Request("GET", path)

    load.run_python(ctx.host, ctx.port, concurrency=ctx.concurrency, duration=1, next_request=same)
    with ctx.profile(name), _cpu(ctx):
        return load.run_python(
            ctx.host,
            ctx.port,
            concurrency=ctx.concurrency,
            duration=ctx.duration,
            next_request=same,
        )


# -- issue 2: ceiling and slots API ------------------------------------------------------


def ceiling(ctx: Context, *, again: bool = False) -> list[Row]:
    """The framework's ceiling. Run again after the HTTP rows (`again`) to show how much
    the machine's other work moved it meanwhile; the fractions use the first run."""
    name = "ceiling again, after the rows" if again else "ceiling: GET /api/ping/"
    status, body = ctx.fetch("GET", "/api/ping/")
    if status != 200:
        return [broken(name, 2, f"HTTP {status}: {_snippet(body)}")]
    result = _get_load(ctx, "/api/ping/", name)
    first = ctx.ceiling
    if not again:
        ctx.ceiling = result
    bad = result.unexpected(200)
    drift = ""
    if again and first is not None and first.rate:
        drift = f"; {result.rate / first.rate:.2f}x the first ceiling run"
    return [
        Row(
            name=name,
            issue=2,
            value=result.rate,
            unit="req/s",
            p50_ms=_ms(result.p50),
            p99_ms=_ms(result.p99),
            fraction=ctx.fraction(result.rate),
            target="reference",
            status=NA if not bad else FAIL,
            notes=f"{result.requests} requests ({result.tool}); {_cpu_note(ctx, result.requests)}"
            + drift
            + (f"; {bad} errors or non-200" if bad else ""),
        )
    ]


def _tomorrow(ctx: Context, tz: str):
    return ctx.now.astimezone(ZoneInfo(tz)).date() + timedelta(days=1)


def _slots_path(slug: str, first, days: int) -> str:
    last = first + timedelta(days=days - 1)
    return f"/api/public/calendars/{slug}/slots/?start={first:%Y-%m-%d}&end={last:%Y-%m-%d}"


def _get_row(ctx: Context, *, name: str, issue: int, path: str, minimum: float, check=None) -> Row:
    """Probe the path once, then load it. `check(body) -> str` describes the answer."""
    target = f">= {minimum:.2f}x ceiling"
    status, body = ctx.fetch("GET", path)
    if status in NOT_THERE:
        return unavailable(name, issue, f"GET {path.split('?')[0]} answers {status}", target=target)
    if status != 200:
        return broken(name, issue, f"HTTP {status}: {_snippet(body)}", target=target)
    described = check(body) if check else ""
    queries = count_queries("GET", path)
    result = _get_load(ctx, path, name)
    fraction = ctx.fraction(result.rate)
    bad = result.unexpected(200)
    notes = [
        f"{result.requests} requests ({result.tool})",
        queries,
        _cpu_note(ctx, result.requests),
    ]
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
        notes="; ".join(notes),
    )


def _count_slots(body: bytes) -> str:
    data = json.loads(body)
    slots = data.get("slots", {})
    return f"{sum(len(v) for v in slots.values())} free slots on {len(slots)} dates per answer"


def slots_rows(ctx: Context) -> list[Row]:
    seeded = ctx.seeded
    first = _tomorrow(ctx, seeded.slots_timezone)
    rows = []
    for days, minimum in ((1, 1 / 3), (31, 1 / 6)):
        rows.append(
            _get_row(
                ctx,
                name=f"slots API, {days} day{'s' if days > 1 else ''}",
                issue=2,
                path=_slots_path(seeded.slots_calendar, first, days),
                minimum=minimum,
                check=_count_slots,
            )
        )
    return rows


# -- issue 3: booking page and bookings ------------------------------------------------------


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
            minimum=1 / 5,
            check=check,
        )
    ]


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


def _booking_body(n: int, start: str) -> bytes:
    return json.dumps(
        {
            "start": start,
            "name": f"Bench Invitee {n}",
            "email": f"invitee{n}@bench.example",
            "timezone": "UTC",
        }
    ).encode()


@dataclass
class _Answered:
    calendar: str
    start: str
    status: int
    body: bytes
    tag: object = None


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


def _booking_run(
    ctx: Context,
    *,
    slugs: list[str],
    path_for: Callable[[str, int], tuple[str, object]],
    name: str,
    limit: int | None = None,
) -> tuple[LoadResult, list[_Answered], bool, Counter]:
    """POST distinct free slots round-robin over `slugs` for the row's duration."""
    per_calendar = {}
    from_api = True
    for slug in slugs:
        per_calendar[slug], ok = _free_slots(ctx, slug)
        from_api = from_api and ok
    plan = _interleaved(per_calendar, ctx.rng)
    if limit is not None:
        plan = plan[:limit]
    lock = threading.Lock()
    cursor = iter(enumerate(plan))
    answered: list[_Answered] = []

    def next_request() -> load.Request | None:
        with lock:
            item = next(cursor, None)
        if item is None:
            return None
        n, (slug, start) = item
        path, tag = path_for(slug, n)
        return load.Request("POST", path, _booking_body(n, start), tag=(slug, start, tag))

    def on_answer(answer: load.Answer) -> None:
        slug, start, tag = answer.request.tag
        answered.append(_Answered(slug, start, answer.status, answer.body, tag))

    def run(seconds: float) -> LoadResult:
        return load.run_python(
            ctx.host,
            ctx.port,
            concurrency=ctx.concurrency,
            duration=seconds,
            next_request=next_request,
            on_answer=on_answer,
        )

    # A 1-second warm-up, as for the GETs: the first bookings of each worker import and
    # compile (templates, icalendar). Its bookings are checked with the rest, not counted.
    run(1)
    with ctx.profile(name), _cpu(ctx):
        result = run(ctx.duration)
    measured = Counter(result.statuses)
    if result.errors:
        measured[0] += result.errors
    return result, answered, from_api, measured


def _probe_start(ctx: Context, hour: int) -> str:
    """A free time outside the slots the run uses (those end 60 days ahead)."""
    day = _tomorrow(ctx, "UTC") + timedelta(days=70)
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, tzinfo=UTC).isoformat()


def _probe_post(ctx: Context, path: str, start: str) -> tuple[int, bytes]:
    return ctx.fetch("POST", path, _booking_body(10**9, start))


def _status_note(statuses: Counter) -> str:
    return "answers " + ", ".join(f"{code or 'error'}: {n}" for code, n in sorted(statuses.items()))


def bookings(ctx: Context) -> list[Row]:
    name = "bookings/s, POST .../bookings/"
    target = ">= 0.10x ceiling"
    slugs = ctx.seeded.booking_calendars
    # One booking first: is the endpoint there, and does it book? Its slot is not reused
    # (the run asks for the free slots after it).
    path = f"/api/public/calendars/{slugs[0]}/bookings/"
    status, body = _probe_post(ctx, path, _probe_start(ctx, 12))
    if status in NOT_THERE:
        return [unavailable(name, 3, f"POST answers {status}", target=target)]
    if status != 201:
        return [
            broken(name, 3, f"probe booking got HTTP {status}: {_snippet(body)}", target=target)
        ]
    queries = count_queries("POST", path, _booking_body(10**9 + 1, _probe_start(ctx, 13)))

    def path_for(slug: str, n: int) -> tuple[str, object]:
        return f"/api/public/calendars/{slug}/bookings/", None

    result, answered, from_api, statuses = _booking_run(
        ctx, slugs=slugs, path_for=path_for, name=name
    )
    created = statuses.get(201, 0)
    rate = created / result.duration if result.duration else 0.0
    ctx.plain_bookings_rate = rate
    ctx.plain_bookings_count = created
    problems = _check_stored(slugs, answered)
    fraction = ctx.fraction(rate)
    notes = [
        f"{created} booked on {len(slugs)} calendars, concurrency {ctx.concurrency}",
        queries,
        _cpu_note(ctx, result.requests),
        _status_note(statuses),
    ]
    if not from_api:
        notes.append("free slots computed by the bench (slots API not available)")
    notes.append(
        "check: " + ("no overlaps, every 201 stored" if not problems else "; ".join(problems))
    )
    unexpected = sum(n for code, n in statuses.items() if code != 201)
    ok = fraction is not None and fraction >= 0.10 and not problems and not unexpected
    return [
        Row(
            name=name,
            issue=3,
            value=rate,
            unit="bookings/s",
            p50_ms=_ms(result.p50),
            p99_ms=_ms(result.p99),
            fraction=fraction,
            target=target,
            status=verdict(ok) if fraction is not None else NA,
            notes="; ".join(notes),
        )
    ]


# -- issue 4: one-time links -------------------------------------------------------------------


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


def link_bookings(ctx: Context) -> list[Row]:
    name = "link bookings/s, POST /api/public/links/<token>/bookings/"
    target = ">= 0.90x plain bookings/s"
    services, reason = _link_services()
    if services is None:
        return [unavailable(name, 4, reason, target=target)]
    slugs = ctx.seeded.link_calendars
    try:
        probe = _make_links(slugs[0], 2, "probe")
    except NotImplementedError:
        return [
            unavailable(name, 4, "one_time_link_generate raises NotImplementedError", target=target)
        ]
    path = f"/api/public/links/{probe[0][1]}/bookings/"
    status, body = _probe_post(ctx, path, _probe_start(ctx, 12))
    if status in NOT_THERE:
        return [unavailable(name, 4, f"POST answers {status}", target=target)]
    if status != 201:
        return [
            broken(name, 4, f"probe booking got HTTP {status}: {_snippet(body)}", target=target)
        ]
    queries = count_queries(
        "POST",
        f"/api/public/links/{probe[1][1]}/bookings/",
        _booking_body(10**9 + 1, _probe_start(ctx, 13)),
    )

    # Enough links for warm-up and run: twice the plain bookings' count, with room to spare.
    wanted = min(8_000, max(400, int(ctx.plain_bookings_count * 2) + 200))
    per_calendar = -(-wanted // len(slugs))
    links: dict[str, list[tuple[int, str]]] = {
        slug: _make_links(slug, per_calendar, "bench") for slug in slugs
    }
    used_per_calendar: Counter[str] = Counter()
    lock = threading.Lock()

    def path_for(slug: str, n: int) -> tuple[str, object]:
        with lock:
            i = used_per_calendar[slug]
            used_per_calendar[slug] += 1
        link_id, token = links[slug][i]
        return f"/api/public/links/{token}/bookings/", link_id

    result, answered, _from_api, statuses = _booking_run(
        ctx, slugs=slugs, path_for=path_for, name=name, limit=per_calendar * len(slugs)
    )
    created = statuses.get(201, 0)
    rate = created / result.duration if result.duration else 0.0
    problems = _check_stored(slugs, answered)
    problems += _check_links(answered)
    reference = ctx.plain_bookings_rate
    ratio = rate / reference if reference else None
    notes = [
        f"{created} booked through {created} distinct links on {len(slugs)} calendars",
        queries,
        _cpu_note(ctx, result.requests),
        _status_note(statuses),
    ]
    if ratio is not None:
        notes.append(f"{ratio:.2f}x plain bookings/s")
    else:
        notes.append("no plain bookings/s to compare with")
    if len(answered) >= per_calendar * len(slugs):
        notes.append("ran out of prepared links")
    notes.append(
        "check: "
        + (
            "no overlaps, every 201 stored and its link used"
            if not problems
            else "; ".join(problems)
        )
    )
    unexpected = sum(n for code, n in statuses.items() if code != 201)
    ok = ratio is not None and ratio >= 0.9 and not problems and not unexpected
    return [
        Row(
            name=name,
            issue=4,
            value=rate,
            unit="bookings/s",
            p50_ms=_ms(result.p50),
            p99_ms=_ms(result.p99),
            fraction=ctx.fraction(rate),
            target=target,
            status=verdict(ok) if ratio is not None else NA,
            notes="; ".join(notes),
        )
    ]


def _check_links(answered: list[_Answered]) -> list[str]:
    """Every 201 used its link for that booking; every other answer left its link active."""
    from bookings.models import OneTimeLink

    ids = [a.tag for a in answered]
    links = {link.pk: link for link in OneTimeLink.objects.filter(pk__in=ids)}
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
        load.Request("POST", path, _booking_body(n, start))
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
