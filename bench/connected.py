"""Connected calendars in the bench (issue 15): slots of a calendar whose owner has 2,000
stored external busy intervals beside its 2,000 bookings, and one sync of a CalDAV calendar
of 5,000 events (200 of them weekly recurring) against a local Radicale."""

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.report import Row, verdict
from bench.seed import SLOT_MINUTES, local_grid

CALENDAR = "bench-connected"
TIMEZONE = "Europe/Berlin"
BOOKINGS = 2_000
EXTERNAL = 2_000
SYNC_EVENTS = 5_000
SYNC_RECURRING = 200
SYNC_TARGET_SECONDS = 20.0


def seed_connected(*, now: datetime, rng) -> str:
    """A calendar of its own owner (the other rows' owner has no busy time): 2,000 bookings
    and 2,000 busy intervals (15 to 90 minutes, some all-day) over the next 90 days."""
    from django.contrib.auth import get_user_model

    from bench.seed import _calendar
    from bookings.models import Booking, BookingSource
    from calendars.models import BusyInterval, ConnectedCalendar, Connection

    owner = get_user_model().objects.create_user(
        username="bench-connected-owner", email="connected@bench.example", is_staff=True
    )
    calendar = _calendar(owner, CALENDAR, TIMEZONE, min_notice=60)
    tomorrow = now.astimezone(ZoneInfo(TIMEZONE)).date() + timedelta(days=1)
    grid = local_grid(TIMEZONE, tomorrow, 90)
    starts = sorted(rng.sample(grid, BOOKINGS))
    Booking.objects.bulk_create(
        Booking(
            calendar=calendar,
            start=start,
            end=start + timedelta(minutes=SLOT_MINUTES),
            source=BookingSource.API,
            invitee_name=f"Seeded {n}",
            invitee_email=f"connected{n}@bench.example",
            timezone=TIMEZONE,
        )
        for n, start in enumerate(starts)
    )
    connection = Connection.objects.create(
        owner=owner, kind=Connection.Kind.ICS, url="https://calendar.bench.example/busy.ics"
    )
    busy = ConnectedCalendar.objects.create(
        connection=connection, owner=owner, url=connection.url, name="Busy"
    )
    rows = []
    for start in rng.sample(grid, EXTERNAL):
        if rng.random() < 0.02:  # an all-day event: stored as its date
            day = datetime.combine(start.date(), datetime.min.time(), tzinfo=ZoneInfo("UTC"))
            rows.append((day, day + timedelta(days=1), True))
        else:
            rows.append((start, start + timedelta(minutes=rng.choice((15, 30, 60, 90))), False))
    BusyInterval.objects.bulk_create(
        BusyInterval(calendar=busy, owner=owner, start=s, end=e, all_day=a) for s, e, a in rows
    )
    return CALENDAR


def slots_rows(ctx) -> list[Row]:
    from bench.rows import _count_slots, _get_row, _slots_path, _tomorrow

    first = _tomorrow(ctx, TIMEZONE)
    return [
        _get_row(
            ctx,
            name=f"slots API, {days} day{'s' if days > 1 else ''}, + 2,000 external busy",
            issue=15,
            path=_slots_path(CALENDAR, first, days),
            minimum=minimum,
            check=_count_slots,
        )
        for days, minimum in ((1, 1 / 3), (31, 1 / 6))
    ]


def _event_files(*, now: datetime, rng) -> dict[str, str]:
    """5,000 events, one resource each: 4,800 single events over the next 120 days and 200
    weekly series (from up to 60 days back, each with an EXDATE), in three zones (TZIDs)."""
    zones = ["Europe/Berlin", "America/New_York", "UTC"]
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    fmt = "%Y%m%dT%H%M%S"
    files = {}
    for n in range(SYNC_EVENTS):
        tz = zones[n % len(zones)]
        day = now + timedelta(days=rng.randrange(0 if n >= SYNC_RECURRING else -60, 120))
        start = day.astimezone(ZoneInfo(tz)).replace(
            hour=rng.randrange(7, 19), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0
        )
        end = start + timedelta(minutes=rng.choice((15, 30, 60, 90)))
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Onceslot bench//EN",
            "BEGIN:VEVENT",
            f"UID:bench-{n}@calendar.bench.example",
            f"DTSTAMP:{stamp}",
            f"DTSTART;TZID={tz}:{start.strftime(fmt)}",
            f"DTEND;TZID={tz}:{end.strftime(fmt)}",
            f"SUMMARY:Event {n}",
        ]
        if n < SYNC_RECURRING:
            lines.append("RRULE:FREQ=WEEKLY")
            lines.append(f"EXDATE;TZID={tz}:{(start + timedelta(weeks=3)).strftime(fmt)}")
        lines += ["END:VEVENT", "END:VCALENDAR"]
        files[f"bench-{n}.ics"] = "\r\n".join(lines) + "\r\n"
    return files


def sync_row(ctx) -> list[Row]:
    """The first sync of a 5,000-event CalDAV calendar (discovery, REPORT, expansion,
    storing), then a second one that the sync-token skips."""
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from calendars.connections import connection_create, connection_sync
    from calendars.models import BusyInterval
    from tests.radicale import Radicale

    name = f"sync of a CalDAV calendar, {SYNC_EVENTS:,} events ({SYNC_RECURRING} weekly)"
    target = f"< {SYNC_TARGET_SECONDS:g} s"
    with tempfile.TemporaryDirectory() as folder:
        radicale = Radicale(Path(folder))
        radicale.start()
        try:
            # Set-up, not measured: the events are written straight into Radicale's
            # storage (5,000 PUTs, or one PUT of the whole calendar, take minutes here).
            url = radicale.make_calendar("bench", "Bench")
            folder_path = radicale.collection_folder(url)
            for file_name, text in _event_files(now=ctx.now, rng=ctx.rng).items():
                (folder_path / file_name).write_text(text)
            # Radicale parses each event on its first read and keeps a cache, as a server in
            # use has: one untimed listing first, so the row times Onceslot's sync.
            import caldav

            caldav.DAVClient(
                url=radicale.url,
                username=radicale.username,
                password=radicale.password,
                timeout=3600,
            ).calendar(url=url).search(event=True)
            owner = get_user_model().objects.create_user(username="bench-sync", is_staff=True)
            from bench.seed import _calendar

            _calendar(owner, "bench-sync", "UTC")  # 120-day window: the span synced
            with override_settings(CALENDAR_CONNECTION_ALLOW_PRIVATE=True):
                began = time.perf_counter()
                connection = connection_create(
                    owner=owner,
                    kind="caldav",
                    url=radicale.url,
                    username=radicale.username,
                    password=radicale.password,
                )
                first = time.perf_counter() - began
                began = time.perf_counter()
                connection_sync(connection=connection)
                again = time.perf_counter() - began
        finally:
            radicale.stop()
    stored = BusyInterval.objects.filter(owner=owner).count()
    notes = (
        f"status {connection.status}{': ' + connection.error if connection.error else ''}; "
        f"{stored:,} busy intervals stored (recurring expanded over the synced span); "
        f"unchanged calendar synced again in {again:.2f} s (sync-token skip)"
    )
    ok = connection.status == "ok" and first < SYNC_TARGET_SECONDS
    return [
        Row(
            name=name,
            issue=15,
            value=first,
            unit="s",
            target=target,
            status=verdict(ok),
            notes=notes,
        )
    ]
