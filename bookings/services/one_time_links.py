"""One-time links: generate, look up by token, revoke, and book through (consume once).

One service for the Share panel, the API, the CLI and the workflow action. The token scheme
is in docs/architecture.md ("Tokens"); the exactly-once claim and its lock order in "The
booking path". GET never consumes a link (mail scanners prefetch links), and cancelling or
rescheduling its booking never revives it.
"""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone as dj_timezone

from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services import bookings as booking_services
from bookings.services.bookings import BookingError
from calendars.models import Calendar
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
    parts = tokens.split_token(token)
    if parts is None:
        return None
    locator, mac = parts
    link = OneTimeLink.objects.select_related(*related).filter(locator=locator).first()
    # An unknown locator still pays for one MAC check, so timing does not say which exist.
    nonce = link.nonce if link is not None else "0" * 32
    valid = tokens.check_mac(
        purpose=OneTimeLink.TOKEN_PURPOSE, locator=locator, nonce=nonce, mac=mac
    )
    return link if link is not None and valid else None


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


def _claim(*, link: OneTimeLink, now: datetime) -> bool:
    """Mark the link used if it is still active; True if this call did. The UPDATE takes the
    row's lock: a concurrent claim waits for this transaction, then finds the link used
    (or, if this one rolled back, active), so the row count decides who books."""
    claimed = (
        OneTimeLink.objects.filter(pk=link.pk)
        .filter(_state_q(OneTimeLink.State.ACTIVE, now))
        .update(used_at=now)
    )
    if claimed:
        link.used_at = now
    return claimed == 1


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
    """Book through the link behind a URL token: claim it, then book, in one transaction.
    LinkNotFound (404) for a malformed, unknown or forged token;
    LinkUnavailable (410) for a used, expired or revoked link or one whose calendar stopped
    taking bookings; otherwise booking_create's answers, and a refused booking leaves the
    link active (the claim rolls back with it)."""
    link = one_time_link_get_by_token(token=token, related=LINK_BOOKING_RELATED)
    if link is None:
        raise LinkNotFound(token)
    now = now or dj_timezone.now()
    with transaction.atomic():
        # The link's lock first, then booking_create takes the calendar's (lock order).
        if not _claim(link=link, now=now):
            raise LinkUnavailable("This link has expired.")
        try:
            return booking_services.booking_create(
                calendar=link.calendar,
                start=start,
                name=name,
                email=email,
                timezone=timezone,
                source=BookingSource.ONE_TIME_LINK,
                phone=phone,
                notes=notes,
                consent=consent,
                one_time_link=link,
                now=now,
            )
        except booking_services.CalendarInactive as exc:
            # A link to a calendar that stopped taking bookings reads as expired.
            raise LinkUnavailable("This link has expired.") from exc
