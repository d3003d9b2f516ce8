"""What a copy of the database shows: every column of the rows that could hold a secret
URL, as text, for tests that check no usable token is stored (issue 4, "Tokens") and no
ICS subscription's address."""

import re
from urllib.parse import urlsplit

from django.contrib.admin.models import LogEntry

from bookings.models import Booking, OneTimeLink, OutboxMessage
from calendars.models import ConnectedCalendar, Connection
from config.tokens import LOCATOR_LENGTH
from workflows.models import Enrollment, StepRun

DUMPED_MODELS = (
    OutboxMessage,
    StepRun,
    Enrollment,
    OneTimeLink,
    Booking,
    Connection,
    ConnectedCalendar,
    LogEntry,  # the admin's history names the rows it changed
)


def database_dump() -> str:
    return "\n".join(str(list(model.objects.order_by("pk").values())) for model in DUMPED_MODELS)


def secrets_in(dump: str, *tokens: str) -> list[str]:
    """The tokens (or their MAC halves, the part that is never stored) found in `dump`."""
    return [token for token in tokens if token in dump or token[LOCATOR_LENGTH:] in dump]


def url_secrets_in(dump: str, *urls: str) -> list[str]:
    """The URLs found in `dump`, whole or by a long piece of their path or query: where a
    subscription's secret sits (Google's "private-<32 hex>", Outlook's long ids)."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        pieces = [p for p in re.split(r"[/?&=]", f"{parts.path}?{parts.query}") if len(p) >= 16]
        if any(piece in dump for piece in [url, *pieces]):
            found.append(url)
    return found


def every_value_in_the_database() -> set[str]:
    """Every text value of every row of every table the project's models know (Django's
    sessions, users and admin log included), and each JSON value's strings."""
    from django.apps import apps

    found: set[str] = set()

    def collect(value) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    for model in apps.get_models(include_auto_created=True):
        for row in model._base_manager.values_list():
            collect(row)
    return found
