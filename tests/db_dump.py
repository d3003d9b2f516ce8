"""What a copy of the database shows: every column of the rows that could hold a secret
URL, as text, for tests that check no usable token is stored (issue 4, "Tokens")."""

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
)


def database_dump() -> str:
    return "\n".join(str(list(model.objects.order_by("pk").values())) for model in DUMPED_MODELS)


def secrets_in(dump: str, *tokens: str) -> list[str]:
    """The tokens (or their MAC halves, the part that is never stored) found in `dump`."""
    return [token for token in tokens if token in dump or token[LOCATOR_LENGTH:] in dump]
