"""Send webhook: POST the enrollment as JSON to a URL, within a total deadline (a receiver
that answers byte by byte is cut there), no redirects to other hosts. Network errors,
timeouts, 408, 429 and 5xx are transient (retried); other
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
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django import forms
from django.core.validators import URLValidator

from config import urlpolicy
from workflows import conf
from workflows.actions.base import (
    ActionContext,
    ActionDefinition,
    ActionFailed,
    ActionResult,
    ActionTransientError,
    ConfigForm,
)

TIMEOUT_SECONDS = 10  # for each socket operation
DEADLINE_SECONDS = 20  # for the whole request: connection, body, the answer's head
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
        _SameHostRedirects(parts.hostname),
        *urlpolicy.public_handlers(
            allow_private=conf.webhook_allow_private(),
            deadline=urlpolicy.deadline_in(DEADLINE_SECONDS),
        ),
    )
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        if exc.code in TRANSIENT_STATUSES:
            raise ActionTransientError(f"The webhook answered {exc.code}.") from exc
        raise ActionFailed(f"The webhook answered {exc.code}.") from exc
    except urlpolicy.AddressRefused as exc:
        raise ActionFailed(str(exc)) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ActionTransientError(f"The webhook could not be reached: {reason}") from exc


def run(context: ActionContext) -> ActionResult:
    context.lease_renew()  # the request is bounded well below the step's lease
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
