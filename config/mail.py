"""The development mail backend (EMAIL_URL=consolemail://, the default).

Django's console backend prints the raw MIME message: quoted-printable or base64 bodies, the
HTML part and the .ics attachment in full, so the text an invitee would read is hard to find.
This one prints each message as one readable block (headers, the plain-text body, the names
of its attachments) and keeps the whole message as a .eml file in var/mail/ to open in a mail
client.
"""

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

RULE = "=" * 72


def mail_dir() -> Path:
    return Path(settings.VAR_DIR) / "mail"


class ConsoleBackend(BaseEmailBackend):
    def __init__(self, *args, stream=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()

    def send_messages(self, email_messages) -> int:
        sent = 0
        folder = mail_dir()
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for message in email_messages:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                path = folder / f"{stamp}-{sent}.eml"
                path.write_bytes(message.message().as_bytes(linesep="\n"))
                self.stream.write(self.format(message, path) + "\n")
                self.stream.flush()
                sent += 1
        return sent

    @staticmethod
    def format(message, path: Path) -> str:
        attachments = [
            a[0] if isinstance(a, tuple) else a.get_filename() for a in message.attachments
        ]
        if getattr(message, "alternatives", None):
            attachments.insert(0, "(an HTML version)")
        lines = [
            RULE,
            f"Email to {', '.join(message.to)}",
            f"From:    {message.from_email}",
            f"Subject: {message.subject}",
            f"Saved:   {path}",
        ]
        if attachments:
            lines.append(f"Also:    {', '.join(str(a) for a in attachments)}")
        lines += ["-" * 72, message.body.rstrip(), RULE]
        return "\n".join(lines)
