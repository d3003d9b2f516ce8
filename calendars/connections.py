"""Connected calendars: connection writes and the sync that stores external busy time.

The sync reads each busy calendar of a connection, keeps the span its owner's calendars
can book, and replaces that calendar's stored BusyInterval rows: the slots path reads
those rows and never waits on an external server. A calendar whose CTag / sync-token is unchanged is
skipped. A failure keeps the last good rows, marks the connection `error` with a readable
message, and backs off (calendars/tasks.py runs due connections every
CALENDAR_SYNC_INTERVAL_SECONDS).
"""

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone as dj_timezone

from calendars import ical, remote, signals
from calendars.models import (
    BusyInterval,
    Calendar,
    ConnectedCalendar,
    Connection,
    new_rules_version,
)
from config import crypto
from config.signals import send_on_commit

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
UNREADABLE = (
    "The stored address or password cannot be decrypted: SECRET_KEY changed and the old "
    "key is not in SECRET_KEY_FALLBACKS. Remove this connection and add it again."
)
_DEFAULT_WINDOW_DAYS = 60


def own_uid_suffix() -> str:
    """Every UID Onceslot writes (invites, write-back events) ends so: the sync skips them,
    so a booking written back does not block its own time twice."""
    return "@" + (urlsplit(settings.SITE_URL).hostname or "onceslot")


def sync_interval() -> timedelta:
    return timedelta(seconds=settings.CALENDAR_SYNC_INTERVAL_SECONDS)


def sync_span(*, owner_id: int, now: datetime) -> tuple[datetime, datetime]:
    """From yesterday to the end of the owner's longest booking window (two days' slack)."""
    longest = Calendar.objects.filter(owner_id=owner_id, is_active=True).aggregate(
        days=Max("booking_window_days")
    )["days"]
    return now - timedelta(days=1), now + timedelta(days=(longest or _DEFAULT_WINDOW_DAYS) + 2)


def _invalid(exc: remote.RemoteError | ical.CalendarParseError, field: str = "url"):
    return ValidationError({getattr(exc, "field", field): [str(exc)]})


@transaction.atomic
def _store(connection: Connection, found: Sequence[remote.RemoteCalendar]) -> None:
    connection.full_clean()
    connection.save()
    # The only place calendars are made, and their URLs never change: one per URL here keeps
    # them unique within the connection (the URLs are ciphertext, which no database
    # constraint can compare).
    distinct = {c.url: c for c in found}
    ConnectedCalendar.objects.bulk_create(
        ConnectedCalendar(
            connection=connection,
            owner_id=connection.owner_id,
            url=c.url,
            name=c.name[:200],
            busy=True,
            write=False,
        )
        for c in distinct.values()
    )


def connection_create(
    *, owner, kind: str, url: str, username: str = "", password: str = "", now=None
) -> Connection:
    """Connect (the server is asked before anything is stored), store the connection and
    its calendars (all busy), then sync them. ValidationError with field errors when the
    address, the credentials or the answer are not usable."""
    url = url.strip()
    if url.lower().startswith("webcal://"):  # how calendar apps label an https feed
        url = "https://" + url[len("webcal://") :]
    connection = Connection(owner=owner, kind=kind, url=url, username=username)
    connection.password = password
    connection.full_clean(exclude=["owner"])
    try:
        remote.check_url(connection.url)
        if kind == Connection.Kind.CALDAV:
            if not username or not password:
                errors = {}
                if not username:
                    errors["username"] = ["Give the account's username."]
                if not password:
                    errors["password"] = ["Give the password or app password."]
                raise ValidationError(errors)
            found = remote.caldav_discover(url=connection.url, username=username, password=password)
            body = None
        else:
            connection.username, connection.password = "", ""
            body = remote.ics_fetch(url=connection.url)
            ical.parse_calendars([body])  # not a calendar: refused before anything is stored
            found = [remote.RemoteCalendar(url=connection.url, name=_ics_name(body))]
    except remote.RemoteError as exc:
        raise _invalid(exc) from exc
    except ical.CalendarParseError as exc:
        raise ValidationError({"url": ["This address does not serve an iCalendar file."]}) from exc
    _store(connection, found)
    return connection_sync(connection=connection, now=now, ics_body=body)


def _ics_name(body: bytes) -> str:
    try:
        parsed = ical.parse_calendars([body])
    except ical.CalendarParseError:
        return ""
    del parsed
    for line in body.decode("utf-8", "replace").splitlines():
        if line.upper().startswith("X-WR-CALNAME:"):
            return line.split(":", 1)[1].strip()
    return "ICS subscription"


@transaction.atomic
def connection_update_calendars(*, connection: Connection, calendars: Sequence[dict]) -> Connection:
    """Tick calendars busy or not, and choose the write calendar (one per owner).

    `calendars`: items {"url", "busy"?, "write"?}. Unticking busy drops its stored busy time;
    ticking it reads the calendar at the next sync (enqueued on commit).
    """
    # By URL in Python: the stored URLs are ciphertext (calendars.models.EncryptedUrlModel).
    locked = connection.calendars.select_for_update()
    known = {url: c for c in locked if (url := c.url_or_blank)}
    written_to = write_calendar_for(owner_id=connection.owner_id)
    errors = []
    for item in calendars:
        error = {}
        if item.get("url") not in known:
            error["url"] = ["This connection has no calendar with this URL."]
        elif item.get("write") and connection.kind != Connection.Kind.CALDAV:
            error["write"] = ["Bookings can be written to CalDAV calendars only."]
        errors.append(error)
    if any(errors):
        raise ValidationError({"calendars": errors})
    writes = [item for item in calendars if item.get("write")]
    if len(writes) > 1:
        raise ValidationError({"calendars": ["Choose at most one calendar to write bookings to."]})
    if writes:
        # One write calendar across all the owner's connections (a constraint backs it up).
        ConnectedCalendar.objects.filter(owner_id=connection.owner_id, write=True).exclude(
            pk=known[writes[0]["url"]].pk
        ).update(write=False)
    resync = False
    for item in calendars:
        calendar = known[item["url"]]
        if "write" in item:
            calendar.write = bool(item["write"])
        if "busy" in item and bool(item["busy"]) != calendar.busy:
            calendar.busy = bool(item["busy"])
            calendar.sync_state, calendar.synced_until = "", None
            calendar.busy_fingerprint = ""
            if not calendar.busy:
                BusyInterval.objects.filter(calendar=calendar).delete()
                busy_changed(owner_id=connection.owner_id)
            resync = resync or calendar.busy
        calendar.full_clean(validate_constraints=False)
        calendar.save()
    now_written_to = write_calendar_for(owner_id=connection.owner_id)
    if now_written_to is not None and now_written_to != written_to:
        # The owner's upcoming bookings move there (bookings/calendar_sync.py).
        send_on_commit(
            signals.write_calendar_changed, sender=ConnectedCalendar, owner_id=connection.owner_id
        )
    if resync:
        from calendars.tasks import sync_connection

        sync_connection.delay_on_commit(connection.pk)
    return connection


@transaction.atomic
def connection_delete(*, connection: Connection) -> None:
    """Remove the connection, its calendars and their busy time."""
    owner_id = connection.owner_id
    connection.delete()
    busy_changed(owner_id=owner_id)


# What each model keeps encrypted (config/crypto.py).
_ENCRYPTED_FIELDS = (
    (Connection, ("url_encrypted", "password_encrypted")),
    (ConnectedCalendar, ("url_encrypted",)),
)


def connection_secrets_reencrypt() -> tuple[int, list[str]]:
    """Encrypt every stored connection address and password again under the current
    SECRET_KEY, so that older keys can leave SECRET_KEY_FALLBACKS. Returns (rows rewritten,
    the rows no key opens: "Connection 12"), which stay as they are."""
    rewritten, unreadable = 0, []
    for model, fields in _ENCRYPTED_FIELDS:
        with transaction.atomic():
            rows = list(model.objects.select_for_update().only("pk", *fields).order_by("pk"))
            changed = []
            for row in rows:
                try:
                    values = {f: crypto.reencrypt(v) for f in fields if (v := getattr(row, f))}
                except crypto.InvalidToken:
                    unreadable.append(f"{model.__name__} {row.pk}")
                    continue
                for field, value in values.items():
                    setattr(row, field, value)
                changed.append(row)
            model.objects.bulk_update(changed, fields, batch_size=500)
            rewritten += len(changed)
    return rewritten, unreadable


def busy_changed(*, owner_id: int) -> None:
    """The owner's busy time changed: their calendars get a new rules_version, so the slots
    path drops what it keeps in memory (calendars/selectors.py). Inside the transaction that
    changes the rows, so no reader pairs new rows with an old version for long."""
    Calendar.objects.filter(owner_id=owner_id).update(rules_version=new_rules_version())


def _fingerprint(intervals: Sequence[ical.Interval]) -> str:
    digest = hashlib.sha256()
    for i in intervals:
        digest.update(f"{i.start.isoformat()}/{i.end.isoformat()}/{i.all_day};".encode())
    return digest.hexdigest()


def _replace_busy(calendar: ConnectedCalendar, intervals: Sequence[ical.Interval]) -> None:
    fingerprint = _fingerprint(intervals)
    if fingerprint == calendar.busy_fingerprint:
        return  # the same busy time as stored (an ICS file re-read): nothing to write
    calendar.busy_fingerprint = fingerprint
    with transaction.atomic():
        busy_changed(owner_id=calendar.owner_id)
        ConnectedCalendar.objects.filter(pk=calendar.pk).update(busy_fingerprint=fingerprint)
        BusyInterval.objects.filter(calendar=calendar).delete()
        BusyInterval.objects.bulk_create(
            (
                BusyInterval(
                    calendar=calendar,
                    owner_id=calendar.owner_id,
                    start=i.start,
                    end=i.end,
                    all_day=i.all_day,
                )
                for i in intervals
            ),
            batch_size=2000,
        )


def _read_calendar(
    connection: Connection,
    calendar: ConnectedCalendar,
    *,
    start: datetime,
    end: datetime,
    ics_body: bytes | None,
) -> tuple[str, list | None]:
    if connection.kind == Connection.Kind.ICS:
        body = ics_body if ics_body is not None else remote.ics_fetch(url=connection.url)
        return "", [body]
    known = calendar.sync_state
    if calendar.synced_until is None or calendar.synced_until < end - timedelta(days=1):
        known = ""  # the span to cover grew since the stored rows were read
    return remote.caldav_read(
        url=connection.url,
        username=connection.username,
        password=connection.password,
        calendar_url=calendar.url,
        known_state=known,
    )


def connection_sync(
    *, connection: Connection, now: datetime | None = None, ics_body: bytes | None = None
) -> Connection:
    """Read every busy calendar of the connection and store its busy time.

    Never raises for a server's failure: the connection records it (status, message,
    backoff) and the busy time of the last good sync stays.
    """
    now = now or dj_timezone.now()
    start, end = sync_span(owner_id=connection.owner_id, now=now)
    default_tz = ZoneInfo(settings.TIME_ZONE)
    suffix = own_uid_suffix()
    try:
        for calendar in connection.calendars.filter(busy=True):
            state, texts = _read_calendar(
                connection, calendar, start=start, end=end, ics_body=ics_body
            )
            if texts is not None:
                parsed = ical.parse_calendars(texts)
                intervals = ical.busy_intervals(
                    parsed, start=start, end=end, default_tz=default_tz, skip_uid_suffix=suffix
                )
                _replace_busy(calendar, intervals)
            calendar.sync_state, calendar.synced_at, calendar.synced_until = state, now, end
            calendar.save(update_fields=["sync_state", "synced_at", "synced_until"])
    except (remote.RemoteError, ical.CalendarParseError) as exc:
        return _failed(connection, str(exc), now=now)
    except crypto.InvalidToken:
        return _failed(connection, UNREADABLE, now=now)
    except Exception:
        logger.exception("Sync of connection %s failed", connection.pk)
        return _failed(connection, "The calendar could not be read (an unexpected error).", now=now)
    connection.status, connection.error = Connection.Status.OK, ""
    connection.last_synced_at = connection.last_attempt_at = now
    connection.failures = 0
    connection.next_sync_at = now + sync_interval()
    connection.save(
        update_fields=[
            "status",
            "error",
            "last_synced_at",
            "last_attempt_at",
            "failures",
            "next_sync_at",
        ]
    )
    return connection


def backoff(*, failures: int) -> timedelta:
    """The wait after `failures` failed syncs in a row: the interval, doubled each time."""
    return min(sync_interval() * 2 ** max(failures - 1, 0), MAX_BACKOFF)


def _failed(connection: Connection, message: str, *, now: datetime) -> Connection:
    connection.status, connection.error = Connection.Status.ERROR, message
    connection.last_attempt_at = now
    connection.failures += 1
    connection.next_sync_at = now + backoff(failures=connection.failures)
    connection.save(
        update_fields=["status", "error", "last_attempt_at", "failures", "next_sync_at"]
    )
    logger.info("Sync of connection %s failed: %s", connection.pk, message)
    return connection


def connection_ids_due(*, now: datetime | None = None) -> list[int]:
    now = now or dj_timezone.now()
    return list(
        Connection.objects.filter(next_sync_at__lte=now).values_list("pk", flat=True)
    ) + list(Connection.objects.filter(next_sync_at__isnull=True).values_list("pk", flat=True))


def write_calendar_for(*, owner_id: int) -> ConnectedCalendar | None:
    """The owner's calendar that bookings are written to, with its connection."""
    return (
        ConnectedCalendar.objects.select_related("connection")
        .filter(owner_id=owner_id, write=True)
        .first()
    )
