"""A real SMTP server inside the test: aiosmtpd on 127.0.0.1, a free port, every message kept.

    def test_it_mails(smtp_server):          # Django's EMAIL_* now point at it
        ...
        [message] = smtp_server.wait_for(1)  # email.message.EmailMessage objects
        assert message["To"] == "jamie@example.com"

Simulating an outage, two ways:
- `smtp_server.refuse_next(3)`: the server answers the next 3 messages with
  "421 4.3.0 Service not available" at DATA (smtplib raises SMTPDataError; a transient
  error). `refuse_next(1, reply="550 5.1.1 No such user")` for a permanent refusal.
- `smtp_server.stop()` / `smtp_server.start()`: nothing listens on the port in between
  (ConnectionRefusedError); the port stays the same.

`smtp_server.settings_overrides` holds the EMAIL_* settings it applied; tests/celery_worker.py
forwards them to a worker subprocess, so a real worker mails the same server.
"""

import email
import socket
import threading
import time
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

ACCEPTED = "250 2.0.0 Message accepted for delivery"
UNAVAILABLE = "421 4.3.0 Service not available, try again later"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _RecordingHandler:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope) -> str:
        return self.server._receive(envelope)


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (mail_from, rcpt_tos) per message
        self.refused = 0  # messages answered with an error reply
        self.refused_at: list[float] = []  # time.monotonic() of each refusal
        self._refuse_left = 0
        self._refuse_reply = UNAVAILABLE
        self._controller: Controller | None = None
        self._changed = threading.Condition()

    # Server life
    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(_RecordingHandler(self), hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    # Outage simulation
    def refuse_next(self, count: int, *, reply: str = UNAVAILABLE) -> None:
        with self._changed:
            self._refuse_left = count
            self._refuse_reply = reply

    # Inspection
    def wait_for(self, count: int, *, timeout: float = 30.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived; fail the test after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(
                        f"SMTP server got {len(self.messages)} of {count} messages "
                        f"in {timeout}s ({self.refused} refused)",
                        pytrace=False,
                    )
                self._changed.wait(left)
            return list(self.messages)

    def wait_for_refusals(self, count: int, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.refused < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"SMTP server refused {self.refused} of {count}", pytrace=False)
                self._changed.wait(left)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m.get_all("To", [])]

    @property
    def settings_overrides(self) -> dict:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_TIMEOUT": 5,
        }

    def _receive(self, envelope) -> str:
        with self._changed:
            try:
                if self._refuse_left > 0:
                    self._refuse_left -= 1
                    self.refused += 1
                    self.refused_at.append(time.monotonic())
                    return self._refuse_reply
                self.messages.append(
                    email.message_from_bytes(envelope.content, policy=policy.default)
                )
                self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return ACCEPTED
            finally:
                self._changed.notify_all()


@pytest.fixture
def smtp_server(settings):
    server = SmtpServer()
    server.start()
    for name, value in server.settings_overrides.items():
        setattr(settings, name, value)
    try:
        yield server
    finally:
        server.stop()
