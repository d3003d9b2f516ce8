"""Which addresses outbound requests typed in by staff may reach: one rule for every caller
(Send webhook, connected calendars).

The URL is typed by a staff user, and the request leaves from a worker inside the
deployment's network (the database, Redis, a cloud metadata service at 169.254.169.254).
So the check is made on the address actually connected to, after DNS resolution, for every
connection (redirects included): neither a hostname pointing inside nor a DNS answer that
changes between a check and the connection gets through. `allow_private=True` lifts the
rule (a receiver on the same host or network; each caller has its own setting).
"""

import http.client
import ipaddress
import socket
import urllib.request
from collections.abc import Callable


class AddressRefused(Exception):
    """The host resolves only to addresses the policy refuses. Not an OSError on purpose:
    urllib would wrap it into a URLError and it would read as a transient network error."""


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address: not loopback, private, link-local,
    shared (CGNAT), reserved, multicast or unspecified, nor IPv4 inside IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def connector(*, allow_private: bool) -> Callable[..., socket.socket]:
    """A socket.create_connection that tries only the resolved addresses the policy allows."""

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
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                    sock.settimeout(timeout)
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


def public_handlers(*, allow_private: bool) -> list[urllib.request.BaseHandler]:
    """urllib handlers (for build_opener) whose connections follow the policy."""
    connect = connector(allow_private=allow_private)

    class _HTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    class _HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    class _HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(_HTTPConnection, req)

    class _HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(
                _HTTPSConnection, req, context=self._context, check_hostname=self._check_hostname
            )

    return [_HTTPHandler(), _HTTPSHandler()]
