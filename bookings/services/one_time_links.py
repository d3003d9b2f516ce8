"""One-time links: generate, look up by token, revoke, and book through (one use each).

One service for the Share panel, the API, the CLI and the workflow action. The token scheme
is in docs/architecture.md ("Tokens"); uses, ranges, the contact lock and opens in "One-time
links: uses, ranges, renewal"; the claim and its lock order in "The booking path". GET never
takes a use (mail scanners prefetch links), and cancelling or rescheduling a booking never
gives one back. Renewal requests from a spent link: bookings/services/link_renewals.py.
"""

import re
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone as dj_timezone

from bookings.models import Booking, BookingSource, OneTimeLink
from bookings.services import bookings as booking_services
from bookings.services.bookings import BookingError
from calendars import availability
from calendars.models import Calendar
from calendars.selectors import zone
from config import tokens
from contacts.models import Contact
from contacts.services import normalize_email


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
    source: str = OneTimeLink.Source.API,
    max_uses: int = 1,
    bookable_from: date | None = None,
    bookable_until: date | None = None,
    lock_to_contact: bool = False,
    now: datetime | None = None,
) -> OneTimeLink:
    """The one service behind the Share panel, the API, the CLI and the workflow action.
    Bad options raise ValidationError naming the field (max_uses, bookable_from,
    bookable_until, lock_to_contact, expires_at)."""
    if idempotency_key:
        existing = OneTimeLink.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    now = now or dj_timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    today = now.astimezone(zone(calendar.timezone)).date()
    if bookable_until is not None and bookable_until < today:
        raise ValidationError({"bookable_until": "The range must not end before today."})
    link = OneTimeLink(
        calendar=calendar,
        created_by=created_by,
        created_by_process=created_by_process,
        contact=contact,
        label=label,
        expires_at=expires_at,
        idempotency_key=idempotency_key or None,
        source=source,
        max_uses=max_uses,
        bookable_from=bookable_from,
        bookable_until=bookable_until,
        lock_to_contact=lock_to_contact,
    )
    link.full_clean()
    # Past its last bookable date a link can book nothing: it expires then, so it reads as
    # "past its expiry" everywhere (one state rule, OneTimeLink.state_at).
    range_end = one_time_link_range(link=link)[1]
    if range_end is not None and (link.expires_at is None or link.expires_at > range_end):
        link.expires_at = range_end
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


def one_time_link_range(*, link: OneTimeLink) -> tuple[datetime | None, datetime | None]:
    """The link's bookable dates as UTC instants [first, end): local midnights in the
    calendar's timezone (None where the range is open)."""
    tz = zone(link.calendar.timezone)
    first = availability.day_start(tz, link.bookable_from) if link.bookable_from else None
    end = (
        availability.day_start(tz, link.bookable_until + timedelta(days=1))
        if link.bookable_until
        else None
    )
    return first, end


def one_time_link_clamp(
    *, link: OneTimeLink, range_start: datetime, range_end: datetime
) -> tuple[datetime, datetime]:
    """A slot query's range cut to the link's dates (may come out empty: start >= end)."""
    first, end = one_time_link_range(link=link)
    return max(range_start, first or range_start), min(range_end, end or range_end)


def one_time_link_record_open(*, link: OneTimeLink, now: datetime | None = None) -> None:
    """Count an open: the visitor's page showed the link's times (README says when). One
    UPDATE; the first open also sets first_opened_at."""
    now = now or dj_timezone.now()
    OneTimeLink.objects.filter(pk=link.pk).update(
        open_count=F("open_count") + 1,
        first_opened_at=Coalesce(F("first_opened_at"), Value(now)),
    )


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


def _claim_use(*, link_id: int, now: datetime) -> bool:
    """Take one use of an active link: True if this transaction got it.

    A conditional UPDATE whose row count decides the claim: it takes the link row's lock,
    and a concurrent claim waits for this transaction, then re-checks the condition against
    the committed row. So of any number of concurrent attempts exactly the uses left
    succeed; a rollback (slot taken, bad input) gives the use back. The last use also sets
    used_at, which makes the link "used"."""
    not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    claimed = OneTimeLink.objects.filter(
        not_expired,
        pk=link_id,
        used_at__isnull=True,
        revoked_at__isnull=True,
        uses__lt=F("max_uses"),
    ).update(
        uses=F("uses") + 1,
        # Evaluated on the row as it was before this UPDATE: is the use taken now the last?
        used_at=Case(
            When(uses__gte=F("max_uses") - 1, then=Value(now)),
            default=Value(None),
            output_field=DateTimeField(),
        ),
    )
    return claimed == 1


def _check_link_rules(*, link: OneTimeLink, start: datetime, email: str) -> None:
    """The link's own limits on a booking: its dates, and its contact's email."""
    errors = {}
    if link.lock_to_contact:
        # A locked link whose contact was deleted since stays locked: it books for nobody.
        locked_to = link.contact.email.lower() if link.contact else None
        if normalize_email(email).lower() != locked_to:
            errors["email"] = ["This link is for another email address."]
    if isinstance(start, datetime) and start.utcoffset() is not None:
        first, end = one_time_link_range(link=link)
        if (first is not None and start < first) or (end is not None and start >= end):
            errors["start"] = ["This link books only on the dates it was made for."]
    if errors:
        raise ValidationError(errors)


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
    """Book through the link behind a URL token, taking one of its uses in the booking's
    transaction. LinkNotFound (404) for a malformed, unknown or forged token;
    LinkUnavailable (410) for a used, expired or revoked link or one whose calendar stopped
    taking bookings; ValidationError for an email the link is locked against (`email`) or
    a start outside its dates (`start`); otherwise booking_create's answers. A refused
    booking gives the use back (the transaction rolls back whole)."""
    now = now or dj_timezone.now()
    link = one_time_link_get_by_token(token=token, related=(*LINK_BOOKING_RELATED, "contact"))
    if link is None:
        raise LinkNotFound(token)
    with transaction.atomic():
        # Lock order: the link (this UPDATE), then the calendar (booking_create).
        if not _claim_use(link_id=link.pk, now=now):
            raise LinkUnavailable("This link has expired.")
        _check_link_rules(link=link, start=start, email=email)
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
