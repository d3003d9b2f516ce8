"""One-time links: generate, look up by token, revoke, and book through (consume once).

INTERFACE (fixed; Share panel, API, CLI and the workflow action depend on it):

    def one_time_link_generate(*, calendar: Calendar, created_by: User | None = None,
                               created_by_process: str = "", contact: Contact | None = None,
                               label: str = "", expires_at: datetime | None = None,
                               idempotency_key: str | None = None) -> OneTimeLink
        With an idempotency_key already used, returns that existing link (a retried
        workflow step never makes two).

    def one_time_link_url(*, link: OneTimeLink) -> str        # SITE_URL + /l/<token>/
    def one_time_link_revoke(*, link: OneTimeLink) -> OneTimeLink
    def one_time_link_book(*, token: str, start, name, email, timezone, phone="",
                           notes="", consent=False) -> Booking
        Raises LinkNotFound (-> 404) for a malformed, unknown or forged token and
        LinkUnavailable (-> 410) when the link is used, expired or revoked.

Selectors:

    def one_time_link_get_by_token(*, token: str, related=LINK_PAGE_RELATED) -> OneTimeLink | None
        related: what comes along in the same query; the booking POST asks for only
        ("calendar",), since the booking re-reads the calendar and owner under its lock.
    def one_time_links_in_state(queryset, *, state: str, now=None) -> QuerySet

    def one_time_link_is_usable(*, link) -> bool     # active and its calendar takes bookings
    def one_time_link_public_state(*, link) -> str   # state; "expired" if calendar inactive
    def one_time_link_prefill(*, link) -> dict | None   # {"name", "email"} of its contact
    def one_time_link_owner(*, link) -> dict          # {"name", "email"} of the owner

    def parse_expires_in(text: str) -> timedelta   # "30m", "12h", "7d"; ValueError otherwise

TOKENS (see config/tokens.py). The URL's last segment is `<locator><mac>`: a 12-character
random locator stored on the row (it finds the row) followed by 22 characters of
HMAC-SHA256(SECRET_KEY, "<locator>:<nonce>") where the 128-bit nonce is also stored on the
row. 34 URL-safe characters, 200 random bits behind a 128-bit MAC.

Why an HMAC and not a stored hash: staff must be able to copy an active link again from
the Share panel days later. A stored hash cannot give the token back; a stored token would
let anyone with a database dump (a backup, a replica, a leaked fixture) book through every
active link. Deriving the MAC from the row under SECRET_KEY gives both: the server can
rebuild the URL on demand, while the row alone (locator, nonce, times) is useless without
the key, which lives in the environment, not the database.

Rotation: verification tries SECRET_KEY, then every SECRET_KEY_FALLBACKS entry, so links
already sent keep working after a key change; URLs shown after the change use the new key
(the old URL still works while the old key stays in the fallbacks). Removing a key from the
fallbacks invalidates every link sent under it, which is the kill switch after a leak.

Comparison is constant-time (`constant_time_compare`), and a malformed, unknown or forged
token takes the same path and gives the same answer (None -> the ordinary 404), so nothing
tells a prober which locators exist. The MAC is compared as a string, not as decoded bytes,
so the unused low bits of its last base64 character cannot be flipped to forge a variant.

CONSUME EXACTLY ONCE: one transaction that first claims the link with a conditional UPDATE
(set used_at where the row is still unused, unrevoked and unexpired; RETURNING its id,
nonce and calendar), then calls `booking_create` with the link's id, which the booking row
keeps (Booking.one_time_link; `link.booking` is its reverse). The UPDATE is the row lock
(a select_for_update and a write in one statement): a concurrent attempt on the same link
waits for it, then re-checks the condition against what was committed, so of any number of
concurrent attempts exactly one claims the link; the others touch no row and answer 410
without booking anything. Any failure after the claim (slot taken, bad input, calendar
deactivated, a forged MAC) rolls the whole transaction back, claim included: no booking,
and the link stays active. Lock order on every path: link, then the calendar, then the
contact's email (revoking takes the link's alone), so two paths never deadlock. SQLite (no row
locks, but BEGIN IMMEDIATE) serializes whole transactions and the claim is just as
conditional there.

The page and the API both book by token: the claim itself finds the row, on PostgreSQL in
the statement that locks the calendar (so a link booking costs no statement more than a
plain one), and the token's MAC is checked against the nonce the claim returned before
anything is booked.

GET never consumes (mail scanners prefetch links), and
cancelling or rescheduling the booking never revives the link: `used_at` is never cleared.
"""

import functools
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone as dj_timezone

from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services import bookings as booking_services
from bookings.services.bookings import BookingError
from calendars.models import Calendar
from calendars.selectors import calendar_get_cached
from config import tokens
from contacts.models import Contact


class LinkUnavailable(BookingError):
    """The link was used, expired or revoked: answer 410, never book."""


_DURATION_RE = re.compile(r"(\d{1,6})([mhd])")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MAX_EXPIRES_IN = timedelta(days=3650)


def parse_expires_in(text: str) -> timedelta:
    """A lifetime written as minutes, hours or days: "30m", "12h", "7d"."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration; use a number and a unit: 30m, 12h or 7d.")
    delta = timedelta(**{_DURATION_UNITS[match[2]]: int(match[1])})
    if not timedelta(0) < delta <= MAX_EXPIRES_IN:
        raise ValueError(f"{text!r} is out of range; give between 1m and 3650d.")
    return delta


# Derived state as a filter, so lists and counts are done in SQL (mirrors OneTimeLink.state_at).
def _state_q(state: str, now: datetime) -> Q:
    not_used = Q(used_at__isnull=True)
    not_revoked = Q(revoked_at__isnull=True)
    not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    if state == OneTimeLink.State.USED:
        return ~not_used
    if state == OneTimeLink.State.REVOKED:
        return not_used & ~not_revoked
    if state == OneTimeLink.State.EXPIRED:
        return not_used & not_revoked & Q(expires_at__lte=now)
    if state == OneTimeLink.State.ACTIVE:
        return not_used & not_revoked & not_expired
    raise ValueError(f"unknown one-time link state {state!r}")


def one_time_links_in_state(
    queryset: QuerySet[OneTimeLink], *, state: str, now: datetime | None = None
) -> QuerySet[OneTimeLink]:
    return queryset.filter(_state_q(state, now or dj_timezone.now()))


# What a link page needs: its calendar, the owner to contact, the contact to prefill.
LINK_PAGE_RELATED = ("calendar", "calendar__owner", "contact")
# What booking through a link needs before booking_create (which locks and re-reads the
# calendar with its owner): the calendar, for is_active and to book on.
LINK_BOOKING_RELATED = ("calendar",)


def one_time_link_get_by_token(
    *, token: str, related: tuple[str, ...] = LINK_PAGE_RELATED
) -> OneTimeLink | None:
    """The link behind a URL token, or None for a malformed, unknown or forged one (callers
    answer all three with the same 404)."""
    return tokens.lookup(
        OneTimeLink.objects.select_related(*related), token, purpose=OneTimeLink.TOKEN_PURPOSE
    )


def one_time_link_is_usable(*, link: OneTimeLink) -> bool:
    """Active, and its calendar still takes bookings (a deactivated calendar's links stop)."""
    return link.state == OneTimeLink.State.ACTIVE and link.calendar.is_active


def one_time_link_public_state(*, link: OneTimeLink) -> str:
    """The state an invitee is told: a link to a deactivated calendar reads as expired."""
    if link.state == OneTimeLink.State.ACTIVE and not link.calendar.is_active:
        return str(OneTimeLink.State.EXPIRED)
    return str(link.state)


def one_time_link_prefill(*, link: OneTimeLink) -> dict | None:
    """The booking form's name and email when the link was made for a contact."""
    if link.contact is None:
        return None
    return {"name": link.contact.full_name, "email": link.contact.email}


def one_time_link_owner(*, link: OneTimeLink) -> dict:
    """Whom the invitee should contact for a new link."""
    owner = link.calendar.owner
    return {"name": owner.get_full_name() or owner.get_username(), "email": owner.email}


def one_time_link_url(*, link: OneTimeLink) -> str:
    return settings.SITE_URL + reverse("bookings:one-time-link", kwargs={"token": link.token})


def one_time_link_generate(
    *,
    calendar: Calendar,
    created_by: AbstractBaseUser | None = None,
    created_by_process: str = "",
    contact: Contact | None = None,
    label: str = "",
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> OneTimeLink:
    if idempotency_key:
        existing = OneTimeLink.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    if expires_at is not None and expires_at <= dj_timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    link = OneTimeLink(
        calendar=calendar,
        created_by=created_by,
        created_by_process=created_by_process,
        contact=contact,
        label=label,
        expires_at=expires_at,
        idempotency_key=idempotency_key or None,
    )
    link.full_clean()
    try:
        # A savepoint: two retries of one workflow step racing on the same key must not
        # poison the caller's transaction; the loser returns the winner's link.
        with transaction.atomic():
            link.save()
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = OneTimeLink.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return link


def one_time_link_revoke(*, link: OneTimeLink, now: datetime | None = None) -> OneTimeLink:
    """Revoke an active link. Revoking a link that is not active (already revoked, used or
    expired) changes nothing, so the call is safe to repeat."""
    now = now or dj_timezone.now()
    with transaction.atomic():
        locked = OneTimeLink.objects.select_for_update().get(pk=link.pk)
        if locked.state_at(now) == OneTimeLink.State.ACTIVE:
            locked.revoked_at = now
            locked.save(update_fields=["revoked_at"])
    link.refresh_from_db()
    return link


@functools.cache
def _claim_sql(*, vendor: str) -> str:
    """Mark the link with a locator used if it is active, RETURNING (id, nonce, calendar id).
    The UPDATE takes the row's lock: a concurrent claim of the same link waits for this
    transaction and then finds the link used (or, if this one rolled back, active)."""
    # Built once (`vendor` only keys the cache: the quoting is the connection's).
    quote = connection.ops.quote_name
    meta = OneTimeLink._meta
    column = {
        name: quote(meta.get_field(name).column)
        for name in ("id", "locator", "nonce", "calendar", "used_at", "revoked_at", "expires_at")
    }
    # The ACTIVE condition of _state_q, written out: the ORM spent more CPU building this
    # statement (Q objects, filters, the update compiler) than the rest of the link's part
    # of a booking. RETURNING gives what the booking needs (and the nonce, to check the
    # token's MAC) in the same statement.
    return (
        f"UPDATE {quote(meta.db_table)}"  # noqa: S608 (names only)
        f" SET {column['used_at']} = %s"
        f" WHERE {column['locator']} = %s AND {column['used_at']} IS NULL"
        f" AND {column['revoked_at']} IS NULL"
        f" AND ({column['expires_at']} IS NULL OR {column['expires_at']} > %s)"
        f" RETURNING {column['id']}, {column['nonce']}, {column['calendar']}"
    )


def _claim_for_booking(*, locator: str, now: datetime) -> tuple[int, str, Calendar, bool] | None:
    """Claim the link by its locator for a booking: (id, nonce, calendar, whether that
    calendar is already locked), or None when it is not active (any more) or unknown.

    On PostgreSQL the claim and the calendar's lock are one statement: the UPDATE is a CTE
    whose calendar id the calendar's scan waits for (an InitPlan), so the link's row lock
    comes first and the calendar's second, the lock order of every path. Elsewhere the
    claim runs alone and booking_create locks the calendar it is given."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(now), locator, adapt(now)]
    claim = _claim_sql(vendor=connection.vendor)
    if connection.vendor != "postgresql":  # no UPDATE inside WITH
        with connection.cursor() as cursor:
            cursor.execute(claim, params)
            claimed = cursor.fetchone()
        if claimed is None:
            return None
        link_id, nonce, calendar_id = claimed
        return link_id, nonce, calendar_get_cached(pk=calendar_id), False
    quote = connection.ops.quote_name
    meta = OneTimeLink._meta
    # Names only, from the model (noqa S608 below): the values are in `params`.
    id_, nonce_, calendar_ = (quote(meta.get_field(n).column) for n in ("id", "nonce", "calendar"))
    calendar, values = booking_services.calendar_lock(
        prefix=f"WITH claimed AS ({claim})",
        where=f"t0.id = (SELECT {calendar_} FROM claimed)",  # noqa: S608
        extra=(f"(SELECT {id_} FROM claimed)", f"(SELECT {nonce_} FROM claimed)"),  # noqa: S608
        params=params,
    )
    if calendar is None:  # nothing claimed (the calendar row cannot be gone: a foreign key)
        return None
    link_id, nonce = values
    return link_id, nonce, calendar, True


class LinkNotFound(Exception):
    """No link behind this token (malformed, unknown or forged): answer 404."""


def one_time_link_book(
    *,
    token: str,
    start: datetime,
    name: str,
    email: str,
    timezone: str,
    phone: str = "",
    notes: str = "",
    consent: bool = False,
    now: datetime | None = None,
) -> Booking:
    """Book through the link behind a URL token. Its row is not read first: the claim finds it
    by its locator, and the token's MAC is checked against the nonce the claim returns.
    LinkNotFound (404) for a malformed, unknown or forged token;
    LinkUnavailable (410) for a used, expired or revoked link or one whose calendar stopped
    taking bookings; otherwise booking_create's answers, and a refused booking leaves the
    link active."""
    parts = tokens.split_token(token)
    if parts is None:
        raise LinkNotFound(token)
    locator, mac = parts
    now = now or dj_timezone.now()
    with transaction.atomic():
        claimed = _claim_for_booking(locator=locator, now=now)
        if claimed is not None:
            link_id, nonce, calendar, calendar_locked = claimed
            if not tokens.verify(
                purpose=OneTimeLink.TOKEN_PURPOSE, locator=locator, nonce=nonce, mac=mac
            ):
                # A forged token for a real locator: rolls the claim back.
                raise LinkNotFound(token)
            try:
                return booking_services.booking_create(
                    calendar=calendar,
                    calendar_locked=calendar_locked,
                    start=start,
                    name=name,
                    email=email,
                    timezone=timezone,
                    source=BookingSource.ONE_TIME_LINK,
                    phone=phone,
                    notes=notes,
                    consent=consent,
                    now=now,
                    one_time_link_id=link_id,
                    # Any error rolls this whole transaction back, claim included: no
                    # savepoint needed.
                    savepoint=False,
                )
            except booking_services.CalendarInactive as exc:
                # A link to a calendar that stopped taking bookings reads as expired.
                raise LinkUnavailable("This link has expired.") from exc
    # Nothing claimed: unknown (or forged: tokens.lookup checks a MAC either way, so the
    # time does not tell them apart) or not active.
    if one_time_link_get_by_token(token=token, related=()) is None:
        raise LinkNotFound(token)
    raise LinkUnavailable("This link has expired.")
