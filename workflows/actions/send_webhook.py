"""Send webhook: POST the enrollment as JSON to a URL, with timeouts and no redirects to
other hosts. Network errors, timeouts, 408, 429 and 5xx are transient (retried); other
answers outside 2xx fail the step.

Only public addresses are reached: the URL is typed by any staff user, and the request
leaves from the worker, inside the deployment's network (the database, Redis, a cloud
metadata service at 169.254.169.254). The check is made on the address actually connected
to, after DNS resolution and for every redirect, so neither a hostname pointing inside nor
a DNS answer that changes between a check and the connection gets through. A refused
address fails the step for good. WORKFLOW_WEBHOOK_ALLOW_PRIVATE=on lifts the rule (a
receiver on the same host or network), as does an outbound proxy: the proxy's address is
the one checked then.
"""

import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django import forms
from django.core.validators import URLValidator

from workflows import conf
from workflows.actions.base import (
    ActionContext,
    ActionDefinition,
    ActionFailed,
    ActionResult,
    ActionTransientError,
    ConfigForm,
)

TIMEOUT_SECONDS = 10
MAX_REDIRECTS = 3
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class SendWebhookForm(ConfigForm):
    url = forms.URLField(
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        assume_scheme="https",
        label="URL",
        help_text="Receives a POST with the contact and the custom values as JSON.",
    )


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, host: str) -> None:
        self.host = host

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urlsplit(newurl)
        if target.scheme not in ("http", "https") or target.hostname != self.host:
            raise ActionFailed(f"The webhook redirected to another host ({target.hostname}).")
        if code in (307, 308):
            # Keep the method and body: the receiver asked for the same POST elsewhere.
            return urllib.request.Request(  # noqa: S310 (scheme checked above)
                newurl,
                data=req.data,
                headers=dict(req.header_items()),
                method=req.get_method(),
            )
        raise ActionFailed(f"The webhook answered {code}; only 307/308 redirects are followed.")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address: not loopback, private, link-local,
    shared (CGNAT), reserved, multicast or unspecified, nor IPv4 inside IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _connect_public(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """socket.create_connection, trying only the resolved addresses that are public."""
    host, port = address
    refused, error = None, None
    for family, kind, proto, _name, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        if not conf.webhook_allow_private() and not is_public_address(sockaddr[0]):
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
    raise ActionFailed(
        f"The webhook host {host} resolves to {refused}, which is not a public address."
    )


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(
            _PublicHTTPSConnection, req, context=self._context, check_hostname=self._check_hostname
        )


def payload(context: ActionContext) -> dict:
    contact = context.contact
    return {
        "event": "workflow.step",
        "workflow": {
            "id": context.enrollment.workflow_id,
            "name": context.enrollment.workflow.name,
        },
        "enrollment": context.enrollment.pk,
        "step": context.step_run.key,
        "trigger": context.enrollment.trigger_type,
        "contact": {
            "id": contact.pk,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "phone": contact.phone,
            "tags": sorted(contact.tags.values_list("name", flat=True)),
        },
        "values": {k: v for k, v in context.values.items() if k != "contact"},
    }


def post_json(url: str, body: dict, *, idempotency_key: str) -> int:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionFailed("The webhook URL must be http:// or https://.")
    request = urllib.request.Request(  # noqa: S310 (scheme checked just above)
        url,
        data=json.dumps(body, default=str).encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Onceslot-Webhook/1.0",
            # The same step may be delivered twice (at-least-once): receivers can dedupe.
            "Idempotency-Key": idempotency_key,
        },
        method="POST",
    )
    opener = urllib.request.build_opener(
        _SameHostRedirects(parts.hostname), _PublicHTTPHandler(), _PublicHTTPSHandler()
    )
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        if exc.code in TRANSIENT_STATUSES:
            raise ActionTransientError(f"The webhook answered {exc.code}.") from exc
        raise ActionFailed(f"The webhook answered {exc.code}.") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ActionTransientError(f"The webhook could not be reached: {reason}") from exc


def run(context: ActionContext) -> ActionResult:
    status = post_json(
        context.config["url"], payload(context), idempotency_key=context.idempotency_key
    )
    return ActionResult(output={"status_code": status})


DEFINITION = ActionDefinition(
    type="send_webhook",
    label="Send webhook",
    category="Integrations",
    default_key="webhook",
    outputs=("status_code",),
    form_class=SendWebhookForm,
    run=run,
    help_text="POST the contact and custom values as JSON to another system.",
)
