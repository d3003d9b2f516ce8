"""Talking to external calendars: CalDAV (the `caldav` library) and ICS subscriptions
(urllib). Every request goes through config/urlpolicy.py, and every failure becomes a
RemoteError with a sentence a staff user can act on (and the input field it concerns).

How CalDAV follows the address policy: `caldav` talks HTTP through a niquests Session, and
niquests (urllib3-future) asks a pluggable DNS resolver for the addresses it then connects
to. `_PolicyResolver` is that resolver with the refused addresses filtered out of every
answer, so the check is made on the very address connected to, for every connection
(redirects and later requests included): a DNS answer that changes between a check and the
connection cannot slip through, as it could if we resolved and checked before each request.
ICS subscriptions use urllib with urlpolicy.public_handlers, the Send webhook's way.
"""

import logging
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from config import urlpolicy

logger = logging.getLogger(__name__)

# Connect within 10 s; a large calendar may take a while to list.
TIMEOUT_SECONDS = (10, 120)
ICS_TIMEOUT_SECONDS = 60
# The whole fetch, however the server drips its answer (config/urlpolicy.py deadline): a
# sync worker is never held longer than this by one subscription.
ICS_DEADLINE_SECONDS = 120
MAX_ICS_BYTES = 20 * 1024 * 1024  # a year of a busy person's calendar is well under 1 MB


class RemoteError(Exception):
    """A connection failed; `str()` is a readable message, `field` the input it is about."""

    def __init__(self, message: str, *, field: str = "url") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RemoteCalendar:
    url: str
    name: str


def allow_private() -> bool:
    return settings.CALENDAR_CONNECTION_ALLOW_PRIVATE


def check_url(url: str) -> None:
    """Refuse anything but http(s) URLs with a host (the address check comes at connect)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError("Give an http:// or https:// address.")


# -- CalDAV --------------------------------------------------------------------------------


def _policy_resolver():
    # niquests vendors urllib3-future under its own name: its resolver classes come from there.
    from niquests.packages.urllib3.contrib.resolver.system import SystemResolver

    private_ok = allow_private()

    class _PolicyResolver(SystemResolver):
        def getaddrinfo(self, host, port, family, type, proto=0, flags=0, **kwargs):
            answers = super().getaddrinfo(host, port, family, type, proto, flags, **kwargs)
            allowed = [a for a in answers if private_ok or urlpolicy.is_public_address(a[4][0])]
            if not allowed:
                raise socket.gaierror(f"{host} resolves to no public address")
            return allowed

    return _PolicyResolver()


def _client(*, url: str, username: str, password: str):
    import caldav
    import niquests

    check_url(url)
    client = caldav.DAVClient(
        url=url,
        username=username,
        password=password,
        timeout=TIMEOUT_SECONDS,
        enable_rfc6764=False,  # the URL is typed whole; no DNS SRV lookups elsewhere
    )
    client.session.close()
    client.session = niquests.Session(resolver=_policy_resolver())
    return client


def _refused_host(url: str) -> bool:
    """Whether the policy refuses the URL's host (for the error message only)."""
    if allow_private():
        return False
    host = urlsplit(url).hostname or ""
    try:
        addresses = {a[4][0] for a in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and not any(urlpolicy.is_public_address(a) for a in addresses)


def _caldav_error(exc: Exception, url: str) -> RemoteError:
    from caldav.lib import error

    text = str(exc)
    if isinstance(exc, error.AuthorizationError) or " 401" in text or "Unauthorized" in text:
        return RemoteError(
            "The server refused the username or password (use an app password where the "
            "provider asks for one).",
            field="password",
        )
    if _refused_host(url):
        return RemoteError(
            "This address is on a private or local network, which connected calendars may "
            "not reach (CALENDAR_CONNECTION_ALLOW_PRIVATE)."
        )
    if isinstance(exc, error.NotFoundError) or " 404" in text:
        return RemoteError("No CalDAV calendar account was found at this address.")
    if "timed out" in text.lower() or isinstance(exc, TimeoutError):
        return RemoteError("The server did not answer in time.")
    if isinstance(exc, (OSError, ConnectionError)) or "connect" in text.lower():
        return RemoteError("The server could not be reached.")
    return RemoteError("The server did not answer as a CalDAV server does.")


def _wrap(url: str):
    """A context manager turning any failure of a CalDAV exchange into a RemoteError."""

    class _Guard:
        def __enter__(self):
            return self

        def __exit__(self, kind, exc, tb):
            if exc is None or isinstance(exc, RemoteError):
                return False
            logger.info("CalDAV request to %s failed: %s", urlsplit(url).hostname, kind.__name__)
            raise _caldav_error(exc, url) from exc

    return _Guard()


def caldav_discover(*, url: str, username: str, password: str) -> list[RemoteCalendar]:
    """The account's calendars that hold events. RemoteError when it cannot be read."""
    with _wrap(url):
        client = _client(url=url, username=username, password=password)
        with client:
            calendars = client.principal().calendars()
            found = []
            for calendar in calendars:
                try:
                    components = calendar.get_supported_components()
                except Exception:  # not every server answers; assume it holds events
                    components = ["VEVENT"]
                if components and "VEVENT" not in components:
                    continue
                found.append(
                    RemoteCalendar(url=str(calendar.url), name=calendar.get_display_name() or "")
                )
    if not found:
        raise RemoteError("This account has no calendars with events.")
    return found


def _state_of(calendar) -> str:
    """The collection's sync-token or CTag: it changes whenever anything in it does."""
    from caldav.elements import dav
    from caldav.elements.base import ValuedBaseElement

    class GetCTag(ValuedBaseElement):
        tag = "{http://calendarserver.org/ns/}getctag"

    props = calendar.get_properties([dav.SyncToken(), GetCTag()])
    token = props.get(dav.SyncToken.tag) or props.get(GetCTag.tag) or ""
    return str(token)[:500]


def caldav_read(
    *,
    url: str,
    username: str,
    password: str,
    calendar_url: str,
    known_state: str = "",
) -> tuple[str, list[str] | None]:
    """(state, event texts) of one calendar; texts None when the state is `known_state`
    (nothing changed: the stored busy time stands)."""
    with _wrap(url):
        client = _client(url=url, username=username, password=password)
        with client:
            calendar = client.calendar(url=calendar_url)
            state = _state_of(calendar)
            if state and state == known_state:
                return state, None
            # Every event, not a time-range query: servers such as Radicale expand each
            # recurring event to test a range, which cost minutes on a 5,000-event calendar
            # (make bench), while reading them whole is a plain listing. The range is applied
            # here, with the expansion (calendars/ical.py); unchanged calendars are skipped.
            events = calendar.search(event=True)
            return state, [event.data for event in events]


def caldav_put(
    *, url: str, username: str, password: str, calendar_url: str, name: str, ics: str
) -> None:
    """Create or replace the event stored at <calendar_url><name>.ics (idempotent)."""
    with _wrap(url):
        client = _client(url=url, username=username, password=password)
        with client:
            response = client.put(
                urljoin(calendar_url, f"{name}.ics"),
                ics,
                {"Content-Type": "text/calendar; charset=utf-8"},
            )
            if response.status not in (200, 201, 204):
                raise RemoteError(f"The server refused the event (HTTP {response.status}).")


def caldav_delete(*, url: str, username: str, password: str, calendar_url: str, name: str) -> None:
    """Delete the event at <calendar_url><name>.ics; one already gone is fine."""
    with _wrap(url):
        client = _client(url=url, username=username, password=password)
        with client:
            response = client.delete(urljoin(calendar_url, f"{name}.ics"))
            if response.status not in (200, 204, 404):
                raise RemoteError(
                    f"The server refused to delete the event (HTTP {response.status})."
                )


# -- ICS subscriptions -----------------------------------------------------------------------


def ics_fetch(*, url: str) -> bytes:
    """The body of an ICS subscription. RemoteError when it cannot be fetched."""
    # webcal:// is how calendar apps label the same http(s) feed.
    if url.startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    check_url(url)
    handlers = urlpolicy.public_handlers(
        allow_private=allow_private(), deadline=urlpolicy.deadline_in(ICS_DEADLINE_SECONDS)
    )
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(  # noqa: S310 (check_url allows http and https only)
        url, headers={"User-Agent": "Onceslot calendar sync"}
    )
    try:
        with opener.open(request, timeout=ICS_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_ICS_BYTES + 1)
    except urlpolicy.AddressRefused as exc:
        raise RemoteError(
            "This address is on a private or local network, which connected calendars may "
            "not reach (CALENDAR_CONNECTION_ALLOW_PRIVATE)."
        ) from exc
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise RemoteError(
                f"The server refused access (HTTP {exc.code}): check the secret address."
            ) from exc
        raise RemoteError(f"The server answered HTTP {exc.code}.") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, urlpolicy.AddressRefused):
            raise RemoteError(
                "This address is on a private or local network, which connected calendars "
                "may not reach (CALENDAR_CONNECTION_ALLOW_PRIVATE)."
            ) from exc
        if isinstance(reason, TimeoutError | socket.timeout):
            raise RemoteError("The server did not answer in time.") from exc
        raise RemoteError("The server could not be reached.") from exc
    if len(body) > MAX_ICS_BYTES:
        raise RemoteError("The calendar file is larger than 20 MB.")
    return body
