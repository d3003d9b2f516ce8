"""Send Email: rendered from custom values, recorded in the outbox, delivered at most once.

A custom value may be a secret URL (a one-time link), so the outbox row holds the templates
and a snapshot of the stored values they use (a link's id, never its URL), and the outbox
renders the text at each delivery attempt (message_render). The row's subject, and the
step's `subject` output, show a stand-in for a secret value.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from bookings.models import OutboxMessage
from bookings.services import outbox
from calendars.models import Calendar
from config.text import one_line, validate_single_line
from workflows import templating
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
        validators=[validate_single_line],
        label="To",
        help_text=(
            "Empty: the contact's email. “owner”: the calendar's owner (a notification). "
            "Or an address, which may hold a custom value."
        ),
    )
    subject = forms.CharField(max_length=300, validators=[validate_single_line])
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), label="Body (plain text)")
    body_html = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        label="Body (HTML)",
        help_text="Optional. Custom values are escaped in HTML.",
    )


TEMPLATE = "workflow_email"  # bookings.services.outbox.RENDERERS
TO_OWNER = "owner"


def owner_email(context: ActionContext) -> str:
    """The calendar owner's address: of the appointment's or the link's calendar, else of
    whoever built the workflow."""
    enrollment = context.enrollment
    if enrollment.booking is not None:
        return enrollment.booking.calendar.owner.email
    calendar_id = (enrollment.trigger_data or {}).get("calendar_id")
    if calendar_id:
        email = (
            Calendar.objects.filter(pk=calendar_id).values_list("owner__email", flat=True).first()
        )
        if email:
            return email
    creator = enrollment.workflow.created_by
    return creator.email if creator is not None else ""


def _render_all(templates: dict[str, str], values) -> dict[str, str]:
    return {
        # A header cannot hold a line break; a value with one must not break the message.
        "subject": one_line(templating.render(templates["subject"], values)),
        "body_text": templating.render(templates["body"], values),
        "body_html": templating.render(templates["body_html"], values, escape_html=True),
    }


def message_render(message: OutboxMessage) -> dict[str, str]:
    """The outbox's renderer of a workflow email: the templates with the snapshot values,
    secret outputs computed again (the same text on every attempt). Raises MissingValue if
    a link it needs is gone."""
    from workflows.actions import values_expand  # the registry imports this module

    data = message.context
    values = values_expand(data["values"], types=data["types"])
    return _render_all(data["templates"], values)


def run(context: ActionContext) -> ActionResult:
    from workflows.actions import values_expand  # the registry imports this module

    config = context.config
    to = (config.get("to") or "").strip()
    if to == TO_OWNER:
        to = owner_email(context)
        if not to:
            raise ActionFailed("The calendar's owner has no email address.")
    else:
        to = context.render(to).strip() or context.contact.email
    try:
        validate_email(to)
    except ValidationError as exc:
        raise ActionFailed(f"“{to}” is not an email address.") from exc
    templates = {
        "subject": config["subject"],
        "body": config["body"],
        "body_html": config.get("body_html") or "",
    }
    try:
        # Rendered now to refuse a missing value before anything is recorded.
        if not _render_all(templates, context.values)["body_text"].strip():
            raise ActionFailed("The email body is empty.")
        used = {
            reference.namespace
            for template in templates.values()
            for reference in templating.parse_references(template)
        }
    except (templating.TemplateError, templating.MissingValue) as exc:
        raise ActionFailed(str(exc)) from exc
    snapshot = {name: dict(context.stored_values[name]) for name in used & set(context.values)}
    types = {
        spec["key"]: spec["type"]
        for spec in context.enrollment.actions or ()
        if spec["key"] in snapshot
    }
    redacted = values_expand(snapshot, types=types, redact=True, booking=context.enrollment.booking)
    shown = _render_all(templates, redacted)
    with transaction.atomic():
        # One step run, one outbox row: a re-run finds the row it made before.
        message = outbox.outbox_enqueue(
            key=context.idempotency_key,
            to=to,
            subject=shown["subject"],
            template=TEMPLATE,
            context={"templates": templates, "values": snapshot, "types": types},
            deliver=False,
        )
    if message.status == OutboxMessage.Status.FAILED and context.step_run.attempts == 1:
        # Attempts start again only when staff retry the failed step: give its message,
        # refused or out of attempts before, a fresh start too. A failed message was never
        # delivered, so this cannot send a second copy.
        outbox.outbox_retry(message_ids=[message.pk])
    context.lease_renew()  # an SMTP exchange is bounded well below the step's lease
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
    return ActionResult(output={"to": to, "subject": shown["subject"], "message_id": message.pk})


DEFINITION = ActionDefinition(
    type="send_email",
    label="Send Email",
    category="Communication",
    default_key="email",
    outputs=("to", "subject"),
    form_class=SendEmailForm,
    run=run,
    templated_fields=("to", "subject", "body", "body_html"),
    help_text=(
        "An email to the contact (or the calendar's owner), with custom values in the "
        "subject and body."
    ),
)
