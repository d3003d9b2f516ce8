"""Keep secret URL tokens (one-time links, booking management links) out of every log line."""

import logging
import re

# The last segment of these paths is a bearer secret: whoever reads it can book or cancel.
_SECRET_PATH = re.compile(r"(/(?:l|b|links|hooks|feeds)/)[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    return _SECRET_PATH.sub(r"\1[redacted]", text)


class RedactTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
