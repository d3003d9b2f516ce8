"""What every action type provides, and what a running action gets."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms

from calendars.models import Calendar
from calendars.selectors import calendar_list_for
from workflows import templating

if TYPE_CHECKING:
    from contacts.models import Contact
    from workflows.models import Enrollment, StepRun


class ActionFailed(Exception):
    """A permanent failure: retrying cannot help (bad address, calendar deleted, 404)."""


class ActionTransientError(Exception):
    """Try again later with backoff (mail server down, webhook timeout, 503)."""


class LeaseLost(Exception):
    """Another worker took the step over after this one's lease ran out: stop, record
    nothing (raised by ActionContext.lease_renew)."""


class ConfigForm(forms.Form):
    """The typed settings of one action (or trigger) type, stored as JSON.

    The same form validates the API payload and renders in the admin builder, so both
    accept exactly the same configurations. `user` limits choices such as calendars to
    what that user may use."""

    def __init__(self, *args, user=None, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def limit_calendar_choices(self, field_name: str = "calendar") -> None:
        """Offer only calendars the user may use; with no user (a system check) any."""
        queryset = (
            Calendar.objects.all()
            if self.user is None
            else calendar_list_for(user=self.user).prefetch_related(None)
        )
        self.fields[field_name].queryset = queryset.order_by("name")

    def to_config(self) -> dict[str, Any]:
        """The cleaned data as JSON: model choices become ids, empty optionals vanish."""
        config: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if value is None or value == "" or value == []:
                continue
            config[name] = getattr(value, "pk", value)
        return config


@dataclass
class ActionContext:
    step_run: "StepRun"
    enrollment: "Enrollment"
    contact: "Contact"
    config: Mapping[str, Any]
    # Custom values ready to use: the stored ones with the computed (secret) outputs added.
    values: Mapping[str, Mapping[str, str]]
    # The same as stored, without the secret outputs: what may be written to a row.
    stored_values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Extends the step's lease; raises LeaseLost when another worker took the step over.
    # Actions call it right before slow I/O, which is bounded well below the lease.
    lease_renew: Callable[[], None] = lambda: None

    def render(self, template: str, *, escape_html: bool = False) -> str:
        try:
            return templating.render(template, self.values, escape_html=escape_html)
        except (templating.TemplateError, templating.MissingValue) as exc:
            # Validation at save time makes this unreachable for a saved workflow; if it
            # happens anyway, fail loudly rather than send a message with a hole in it.
            raise ActionFailed(str(exc)) from exc

    @property
    def process_label(self) -> str:
        return (
            f"workflow {self.enrollment.workflow_id} · enrollment {self.enrollment.pk} · "
            f"step {self.step_run.key}"
        )

    @property
    def idempotency_key(self) -> str:
        return f"steprun:{self.step_run.pk}"


@dataclass
class ActionResult:
    # Template-visible outputs (the definition's `outputs`) plus any extra detail for the
    # admin; only declared outputs become custom values.
    output: dict[str, Any] = field(default_factory=dict)
    # Set by Wait: the step parks until then and the periodic task releases it.
    wait_until: datetime | None = None
    # Set when the contact's run must end here (the step itself succeeded): the reason
    # shown in the history, e.g. a reminder whose moment has passed.
    stop_reason: str | None = None


@dataclass(frozen=True)
class ActionDefinition:
    type: str
    label: str
    category: str
    default_key: str
    outputs: tuple[str, ...]
    form_class: type[ConfigForm]
    run: Callable[[ActionContext], ActionResult]
    # Config fields whose text may contain custom values; checked when the workflow is saved.
    templated_fields: tuple[str, ...] = ()
    # True when run() only writes rows (no mail, no HTTP, no signals that must see the
    # step still running): it then shares one transaction with recording the step.
    in_transaction: bool = False
    help_text: str = ""
    # Outputs kept in the enrollment's values without being offered as custom values
    # (the id a secret output is computed from).
    stored_outputs: tuple[str, ...] = ()
    # Outputs that must never be stored (a secret URL is a usable token): computed from the
    # stored ones each time values are used. Called once per type with {namespace: stored
    # outputs} of every step of the type (so it can batch its queries); returns the same
    # with the computed outputs added, or with a harmless stand-in when `redact`.
    expand_outputs: Callable[..., dict[str, dict[str, str]]] | None = None
