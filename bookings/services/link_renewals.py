"""Ask for a new one-time link: the spent-link page's and the public API's request.

The owner gets one email (through the outbox) naming who asked, for which calendar, with a
link to the calendar's Share panel; `one_time_link_renewal_requested` is sent after commit
with the contact (upserted by the typed email). Nothing is ever emailed to the typed
address (no relay for spam). Limits, kept in Django's cache: one request per link and email
per hour (a repeat is answered as the first was, and does nothing), and RENEWAL_CLIENT_LIMIT
requests per client per hour (RenewalLimited -> 429).
"""

import hashlib
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone as dj_timezone

from bookings import signals
from bookings.models import OneTimeLink
from bookings.services.one_time_links import one_time_link_is_usable, one_time_link_owner
from bookings.services.outbox import outbox_enqueue
from config.signals import send_on_commit
from contacts.models import Contact
from contacts.services import contact_upsert, normalize_email

RENEWAL_WINDOW_SECONDS = 3600
RENEWAL_CLIENT_LIMIT = 10
MESSAGE_MAX_LENGTH = 1000
# One answer whether or not the request was new or sent anything.
RENEWAL_ANSWER = "Thank you. The owner has been told you would like a new link."


class LinkStillActive(Exception):
    """The link can still be booked through: nothing to renew (409)."""


class RenewalLimited(Exception):
    """Too many requests from this client this hour (429)."""


def _digest(text: str) -> str:
    # Cache keys hold no address or IP in the clear (a shared Redis is readable by others).
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _client_over_limit(client: str) -> bool:
    key = f"otl-renewal-client:{_digest(client)}"
    cache.add(key, 0, RENEWAL_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RENEWAL_WINDOW_SECONDS)
        count = 1
    return count > RENEWAL_CLIENT_LIMIT


def one_time_link_renewal_request(
    *,
    link: OneTimeLink,
    email: str,
    message: str = "",
    client: str,
    now: datetime | None = None,
) -> bool:
    """Record a visitor's request for a new link; True if it was accepted now, False for a
    repeat within the hour (callers answer both alike). `client` identifies the requester
    (the rate limit's key, e.g. the IP). Raises LinkStillActive, RenewalLimited."""
    if one_time_link_is_usable(link=link):
        raise LinkStillActive(link.pk)
    if _client_over_limit(client):
        raise RenewalLimited(client)
    email = normalize_email(email)
    pair = _digest(f"{link.pk}:{email.lower()}")
    if not cache.add(f"otl-renewal:{pair}", 1, RENEWAL_WINDOW_SECONDS):
        return False
    now = now or dj_timezone.now()
    owner = one_time_link_owner(link=link)
    calendar = link.calendar
    with transaction.atomic():
        contact, _ = contact_upsert(
            owner=calendar.owner, email=email, origin=Contact.Origin.BOOKING
        )
        if owner["email"]:
            share_url = settings.SITE_URL + reverse(
                "admin:calendar-share", kwargs={"calendar_id": calendar.pk}
            )
            note = message.strip()[:MESSAGE_MAX_LENGTH]
            body = "\n".join(
                [
                    f"{email} asked for a new booking link for {calendar.name}.",
                    "Their link can no longer be used to book.",
                    "",
                    *([f"Their message:\n{note}", ""] if note else []),
                    f"Send them a new link from the Share panel: {share_url}?tab=one-time",
                ]
            )
            # No secret in the text (the Share panel needs a login), so it is stored as is.
            # The key's hour keeps one email per link and address per hour even across
            # processes whose caches do not share the pair's key.
            outbox_enqueue(
                key=f"otl-renewal:{link.pk}:{pair}:{int(now.timestamp()) // 3600}",
                to=owner["email"],
                subject=f"New link requested for {calendar.name}"[:300],
                body_text=body,
            )
        send_on_commit(
            signals.one_time_link_renewal_requested,
            sender=OneTimeLink,
            link_id=link.pk,
            calendar_id=calendar.pk,
            contact_id=contact.pk,
        )
    return True


def one_time_link_spent_reason(*, link: OneTimeLink) -> str:
    """Why a link no longer books: used, expired, revoked or calendar_inactive."""
    state = link.state
    if state == OneTimeLink.State.ACTIVE and not link.calendar.is_active:
        return "calendar_inactive"
    return str(state)
