"""Which addresses outbound requests typed in by staff may reach: one rule for every caller
(Send webhook, connected calendars).

The URL is typed by a staff user, and the request leaves from a worker inside the
deployment's network (the database, Redis, a cloud metadata service at 169.254.169.254).
So the check is made on the address actually connected to, after DNS resolution, for every
connection (redirects included): neither a hostname pointing inside nor a DNS answer that
changes between a check and the connection gets through. `allow_private=True` lifts the
rule (a receiver on the same host or network; each caller has its own setting).

A `deadline` (a time.monotonic() value, see `deadline_in`) bounds a whole request: the
connection, sending, and every read of the answer. A socket timeout alone bounds each read,
so a receiver that drips one byte every few seconds would hold a worker for ever.
"""

import http.client
import io
import ipaddress
import socket
import time
import urllib.request
from collections.abc import Callable


class AddressRefused(Exception):
    """The host resolves only to addresses the policy refuses. Not an OSError on purpose:
    urllib would wrap it into a URLError and it would read as a transient network error."""


# IPv6 ranges that carry an IPv4 address (which a gateway, the kernel or a relay may turn
# into a connection to that IPv4 address, private or not) or that were private space: all
# refused, whatever they embed, rather than judged by what they seem to point at.
_REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # IPv4-compatible (deprecated), also :: and ::1
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, well-known prefix
        "64:ff9b:1::/48",  # NAT64, local-use prefixes
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "fec0::/10",  # site-local (deprecated private space)
    )
)


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address: not loopback, private, link-local,
    shared (CGNAT), reserved, multicast or unspecified, nor an IPv6 form that embeds an IPv4
    address or was private space."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in net for net in _REFUSED_IPV6):
        return False
    return ip.is_global and not ip.is_multicast


class DeadlinePassed(TimeoutError):
    """The request's total deadline passed (an OSError: callers treat it as a timeout)."""


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


def _remaining(deadline: float | None, timeout):
    """The timeout for the next socket operation: the caller's, capped by the deadline."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("The request took longer than its deadline.")
    if timeout is None or timeout is socket._GLOBAL_DEFAULT_TIMEOUT:
        return left
    return min(timeout, left)


class _DeadlineSocket:
    """A connected socket whose every send and read gets only the time left before the
    deadline. http.client reads the answer through makefile(), so that goes through here."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._timeout = sock.gettimeout()
        # As socket.socket does: close() waits for the files made by makefile(). urllib
        # closes the connection's socket as soon as the headers are in and reads the body
        # through the response's file afterwards.
        self._io_refs = 0
        self._closed = False

    def _call(self, method: str, *args, **kwargs):
        self._sock.settimeout(_remaining(self._deadline, self._timeout))
        try:
            return getattr(self._sock, method)(*args, **kwargs)
        except TimeoutError as exc:
            if time.monotonic() >= self._deadline:
                raise DeadlinePassed("The request took longer than its deadline.") from exc
            raise

    def recv_into(self, *args, **kwargs):
        return self._call("recv_into", *args, **kwargs)

    def recv(self, *args, **kwargs):
        return self._call("recv", *args, **kwargs)

    def send(self, *args, **kwargs):
        return self._call("send", *args, **kwargs)

    def sendall(self, *args, **kwargs):
        return self._call("sendall", *args, **kwargs)

    def makefile(self, mode: str = "r", buffering=None, **_kwargs):
        # socket.SocketIO calls back recv_into on this object (and _decref_socketios).
        raw = socket.SocketIO(self, "rb" if "r" in mode else "wb")
        self._io_refs += 1
        return io.BufferedReader(raw) if "r" in mode else io.BufferedWriter(raw)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs == 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs == 0:
            self._sock.close()

    def __getattr__(self, name):
        return getattr(self._sock, name)


def connector(
    *, allow_private: bool, deadline: float | None = None
) -> Callable[..., socket.socket]:
    """A socket.create_connection that tries only the resolved addresses the policy allows
    (and gives up when the deadline passes)."""

    def connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
        host, port = address
        refused, error = None, None
        for family, kind, proto, _name, sockaddr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            if not allow_private and not is_public_address(sockaddr[0]):
                refused = sockaddr[0]
                continue
            sock = socket.socket(family, kind, proto)
            try:
                op_timeout = _remaining(deadline, timeout)
                if op_timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(op_timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        if error is not None:
            raise error
        raise AddressRefused(
            f"The host {host} resolves to {refused}, which is not a public address."
        )

    return connect


def public_handlers(
    *, allow_private: bool, deadline: float | None = None
) -> list[urllib.request.BaseHandler]:
    """urllib handlers (for build_opener) whose connections follow the policy and, with a
    deadline, end when it passes (DeadlinePassed, a TimeoutError)."""
    connect = connector(allow_private=allow_private, deadline=deadline)

    class _HTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

        def connect(self) -> None:
            super().connect()
            if deadline is not None:
                self.sock = _DeadlineSocket(self.sock, deadline)

    class _HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

        def connect(self) -> None:
            # The TLS handshake's reads each get the time left at connection (see connect).
            super().connect()
            if deadline is not None:
                self.sock = _DeadlineSocket(self.sock, deadline)

    class _HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(_HTTPConnection, req)

    class _HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(
                _HTTPSConnection, req, context=self._context, check_hostname=self._check_hostname
            )

    return [_HTTPHandler(), _HTTPSHandler()]
