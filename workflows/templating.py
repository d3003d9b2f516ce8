"""Custom values in workflow texts: `{{ contact.first_name }}`, `{{ link.url }}`.

Pure functions, no database. A placeholder has exactly one form, `{{ <namespace>.<name> }}`,
optionally followed by one fallback, `| default: "<text>"`; nothing else between `{{` and
`}}` is accepted, so a template cannot call, filter, loop or look anything up: substitution
is one regex pass and neither a value nor a fallback is ever scanned again. User input never
reaches Django's or Jinja's template engines.

Namespaces are `contact`, `appointment` (appointment triggers) and the keys of the
workflow's earlier actions. Validation is done when a workflow is saved (`template_errors`),
and rendering refuses a missing or empty value without a fallback (`MissingValue`) instead
of writing a blank; `| default: ""` asks for the blank explicitly.
"""

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

# The shape of an action key, and so of a namespace: lower-case, readable, URL-safe.
KEY_PATTERN = r"[a-z][a-z0-9_]{0,39}"
KEY_RE = re.compile(rf"{KEY_PATTERN}\Z")
_NAME_PATTERN = r"[a-z][a-z0-9_]{0,39}"

# Anything between double braces (non-greedy, may span no newline). Every such span must
# be a well-formed reference; a stray `{{` without `}}` is left as text.
_PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}")
# The fallback's literal: any text but a double quote (no escapes: nothing to interpret).
_REFERENCE_RE = re.compile(
    rf'\s*({KEY_PATTERN})\.({_NAME_PATTERN})\s*(?:\|\s*default\s*:\s*"([^"]*)"\s*)?\Z'
)

CONTACT_NAMESPACE = "contact"
CONTACT_FIELDS: tuple[str, ...] = ("first_name", "last_name", "full_name", "email", "phone")
APPOINTMENT_NAMESPACE = "appointment"
APPOINTMENT_FIELDS: tuple[str, ...] = (
    "start_time",
    "start_date",
    "end_time",
    "timezone",
    "calendar_name",
    "owner_name",
    "owner_email",
    "status",
    "reschedule_url",
    "cancel_url",
    "ics_url",
)
RESERVED_KEYS = frozenset(
    {CONTACT_NAMESPACE, APPOINTMENT_NAMESPACE, "trigger", "workflow", "enrollment"}
)

Values = Mapping[str, Mapping[str, str]]
Available = Mapping[str, frozenset[str] | set[str] | tuple[str, ...]]


class TemplateError(ValueError):
    """A template that may not be saved; `str()` is a sentence for the builder."""


class MissingValue(LookupError):
    """A reference with no value at render time: the message must not go out blank."""

    def __init__(self, reference: "Reference") -> None:
        super().__init__(f"No value for {reference.placeholder}.")
        self.reference = reference


class EmptyValue(MissingValue):
    """A reference whose value is empty and that has no fallback."""

    def __init__(self, reference: "Reference") -> None:
        LookupError.__init__(
            self,
            f"{reference.placeholder} is empty; give it a fallback, e.g. "
            f'{{{{ {reference.namespace}.{reference.name} | default: "…" }}}}.',
        )
        self.reference = reference


@dataclass(frozen=True)
class Reference:
    namespace: str
    name: str
    # The text written in `| default: "..."`, or None without a fallback.
    fallback: str | None = None

    @property
    def placeholder(self) -> str:
        return "{{ " + f"{self.namespace}.{self.name}" + " }}"

    @property
    def value_reference(self) -> "Reference":
        """The same value without its fallback (two spellings of one value)."""
        return Reference(self.namespace, self.name)


def placeholder(namespace: str, name: str) -> str:
    return Reference(namespace, name).placeholder


def _reference(match: re.Match) -> Reference:
    return Reference(match.group(1), match.group(2), match.group(3))


def parse_references(template: str) -> list[Reference]:
    """Every reference in the order written (duplicates kept). Raises TemplateError on a
    `{{ ... }}` that is not a plain `namespace.name`."""
    references = []
    for match in _PLACEHOLDER_RE.finditer(template):
        inner = match.group(1)
        reference = _REFERENCE_RE.match(inner)
        if reference is None:
            shown = match.group(0) if len(match.group(0)) <= 60 else match.group(0)[:57] + "..."
            raise TemplateError(
                f"{shown} is not a custom value. Use the form {{{{ contact.first_name }}}} "
                "or {{ <action key>.<output> }}, optionally with one fallback as in "
                '{{ contact.first_name | default: "there" }}; nothing else may go between '
                "double braces."
            )
        references.append(_reference(reference))
    return references


def template_errors(template: str, *, available: Available) -> list[str]:
    """Sentences describing why `template` cannot be used with the values `available` at
    its step (namespace -> output names); an empty list when it can."""
    try:
        references = parse_references(template)
    except TemplateError as exc:
        return [str(exc)]
    errors: list[str] = []
    for reference in dict.fromkeys(r.value_reference for r in references):
        names = available.get(reference.namespace)
        if names is None:
            errors.append(
                f"{reference.placeholder} refers to “{reference.namespace}”, which is not "
                "the contact or an earlier action of this workflow."
            )
        elif reference.name not in names:
            choices = ", ".join(sorted(names)) or "none"
            errors.append(
                f"{reference.placeholder}: “{reference.namespace}” has no value "
                f"“{reference.name}” (available: {choices})."
            )
    return errors


def render(template: str, values: Values, *, escape_html: bool = False) -> str:
    """Substitute every reference with its value, escaped for HTML when `escape_html`.

    A missing or empty value takes its fallback; without one, MissingValue (EmptyValue for
    an empty one) is raised, as is TemplateError on a malformed placeholder. Values and
    fallbacks are inserted as they are (escaped alike) and never scanned again."""
    parse_references(template)  # refuse malformed placeholders before substituting any

    def substitute(match: re.Match) -> str:
        reference_match = _REFERENCE_RE.match(match.group(1))
        assert reference_match is not None  # checked by parse_references above
        reference = _reference(reference_match)
        namespace = values.get(reference.namespace)
        value = None if namespace is None else namespace.get(reference.name)
        text = "" if value is None else str(value)
        if not text:
            if reference.fallback is not None:
                text = reference.fallback
            elif namespace is None or reference.name not in namespace:
                raise MissingValue(reference)
            else:
                raise EmptyValue(reference)
        return html.escape(text, quote=True) if escape_html else text

    return _PLACEHOLDER_RE.sub(substitute, template)


def contact_values(*, first_name: str, last_name: str, email: str, phone: str) -> dict[str, str]:
    return {
        "first_name": first_name,
        "last_name": last_name,
        "full_name": f"{first_name} {last_name}".strip(),
        "email": email,
        "phone": phone,
    }
