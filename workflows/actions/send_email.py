"""Send Email: rendered from custom values, recorded in the outbox, delivered at most once."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from bookings.models import OutboxMessage
from bookings.services import outbox
from workflows.actions.base import (
    ActionContext,
    ActionDefinition,
    ActionFailed,
    ActionResult,
    ActionTransientError,
    ConfigForm,
)


class SendEmailForm(ConfigForm):
    to = forms.CharField(
        required=False,
        max_length=254,
        label="To",
        help_text="Empty: the contact's email. May hold a custom value.",
    )
    subject = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), label="Body (plain text)")
    body_html = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Body (HTML)",
        help_text="Optional. Custom values are escaped in HTML.",
    )


def run(context: ActionContext) -> ActionResult:
    config = context.config
    to = context.render(config.get("to") or "").strip() or context.contact.email
    try:
        validate_email(to)
    except ValidationError as exc:
        raise ActionFailed(f"“{to}” is not an email address.") from exc
    # A header cannot hold a line break; a value with one must not break the message.
    subject = " ".join(context.render(config["subject"]).split())
    body_text = context.render(config["body"])
    body_html = context.render(config.get("body_html") or "", escape_html=True)
    with transaction.atomic():
        # One step run, one outbox row: a re-run finds the row it made before.
        message = outbox.outbox_enqueue(
            key=context.idempotency_key,
            to=to,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            deliver=False,
        )
    if message.status == OutboxMessage.Status.FAILED and context.step_run.attempts == 1:
        # Attempts start again only when staff retry the failed step: give its message,
        # refused or out of attempts before, a fresh start too. A failed message was never
        # delivered, so this cannot send a second copy.
        outbox.outbox_retry(message_ids=[message.pk])
    try:
        delivered = outbox.outbox_deliver(message_id=message.pk)
    except outbox.OutboxTransientError as exc:
        raise ActionTransientError(f"The mail server could not be reached: {exc}") from exc
    except outbox.OutboxDeliveryFailed as exc:
        raise ActionFailed(f"The email could not be sent: {exc}") from exc
    if not delivered:
        # Sent before (a re-run), being sent by another run, or failed: the row says which.
        message.refresh_from_db(fields=["status", "last_error"])
        if message.status == OutboxMessage.Status.FAILED:
            raise ActionFailed(f"The email could not be sent: {message.last_error}")
        if message.status != OutboxMessage.Status.SENT:
            # Another run holds the row (a duplicate delivery or a crashed attempt): look
            # again later instead of sending a second copy.
            raise ActionTransientError("The email is being delivered by another attempt.")
    return ActionResult(output={"to": to, "subject": subject, "message_id": message.pk})


DEFINITION = ActionDefinition(
    type="send_email",
    label="Send Email",
    category="Communication",
    default_key="email",
    outputs=("to", "subject"),
    form_class=SendEmailForm,
    run=run,
    templated_fields=("to", "subject", "body", "body_html"),
    help_text="An email to the contact, with custom values in the subject and body.",
)
