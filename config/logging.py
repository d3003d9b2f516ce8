"""Keep secret URL tokens (one-time links, booking management links) out of every log line."""

import logging
import re
from urllib.parse import unquote

# The last segment of these paths is a bearer secret: whoever reads it can book or cancel.
# A character of the segment may come percent-encoded (%2D for "-").
_SECRET_PATH = re.compile(r"(/(?:l|b|links|hooks|feeds)/)(?:[A-Za-z0-9_\-]|%[0-9A-Fa-f]{2}){8,}")


def redact(text: str) -> str:
    redacted = _SECRET_PATH.sub(r"\1[redacted]", text)
    if "%" in redacted:
        # Django decodes the path before routing, so /l/abc%2Ddef.../ (or /%6C/...) opens
        # the same link; an access log writes the path as it came. Decoded, such a secret
        # shows: then the line is logged decoded, with it redacted.
        decoded = unquote(redacted)
        decoded_redacted = _SECRET_PATH.sub(r"\1[redacted]", decoded)
        if decoded_redacted != decoded:
            return decoded_redacted
    return redacted


class RedactTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
