"""config/urlpolicy.py: which addresses staff-typed URLs may reach, and a request's total
deadline (a receiver dripping its answer is cut there, not after one timeout per byte)."""

import socket
import threading
import time
import urllib.request

import pytest

from config import urlpolicy
from workflows.actions import send_webhook
from workflows.actions.base import ActionTransientError


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::8.8.8.8",  # IPv4-compatible, even of a public address
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::ffff:8.8.8.8",
        "::ffff:0:127.0.0.1",  # IPv4-translated
        "::ffff:0:8.8.8.8",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "64:ff9b:1::a00:1",  # NAT64 local-use
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "fec0::1",  # site-local
        "fed0::1",
        "::",
        "::1",
        "not an address",
    ],
)
def test_it_refuses_ipv6_forms_that_embed_ipv4_or_private_space(address):
    assert urlpolicy.is_public_address(address) is False


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "2a00:1450:4001:82a::200e"])
def test_it_accepts_ordinary_global_ipv6(address):
    assert urlpolicy.is_public_address(address) is True


class DrippingServer:
    """Reads a request, then answers one byte every `interval` seconds, for ever."""

    def __init__(self, interval: float) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
                for byte in answer:
                    if self.stop.wait(self.interval):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def dripping():
    server = DrippingServer(interval=4)
    yield server
    server.close()


def test_it_cuts_a_dripping_answer_at_the_deadline(dripping):
    opener = urllib.request.build_opener(
        *urlpolicy.public_handlers(allow_private=True, deadline=urlpolicy.deadline_in(3))
    )
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        opener.open(f"http://127.0.0.1:{dripping.port}/", timeout=10)

    # One byte arrived at 4 s would have reset a per-read timeout of 10 s for ever.
    assert 2.5 < time.monotonic() - started < 5


def test_it_gives_up_a_webhook_at_its_deadline_as_a_transient_error(
    dripping, monkeypatch, settings
):
    settings.WORKFLOW_WEBHOOK_ALLOW_PRIVATE = True
    monkeypatch.setattr(send_webhook, "DEADLINE_SECONDS", 3)
    started = time.monotonic()

    with pytest.raises(ActionTransientError, match="deadline"):
        send_webhook.post_json(
            f"http://127.0.0.1:{dripping.port}/in", {"a": 1}, idempotency_key="k"
        )

    assert time.monotonic() - started < 5


def test_it_refuses_to_connect_after_the_deadline():
    connect = urlpolicy.connector(allow_private=True, deadline=time.monotonic() - 1)

    with pytest.raises(urlpolicy.DeadlinePassed):
        connect(("127.0.0.1", 9))


def _serve_headers_then_body(sock: socket.socket, pause: float) -> None:
    conn, _ = sock.accept()
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        time.sleep(pause)  # the body arrives after urllib has closed the connection's socket
        conn.sendall(b"hello")


def test_it_reads_a_body_that_arrives_after_the_headers_under_a_deadline():
    server = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_serve_headers_then_body, args=(server, 0.3), daemon=True)
    thread.start()
    opener = urllib.request.build_opener(
        *urlpolicy.public_handlers(allow_private=True, deadline=urlpolicy.deadline_in(10))
    )

    with opener.open(f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=5) as response:
        body = response.read()

    thread.join(timeout=5)
    server.close()
    assert body == b"hello"
