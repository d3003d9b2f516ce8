"""A real HTTP server inside the test: http.server on 127.0.0.1, a free port, a daemon thread.

    with HttpServer() as server:              # in a fixture: `yield server` inside the with
        server.answers["/in"] = Reply(503)    # by path; anything else gets `server.default`
        ...post to server.url + "/in"...
        [request] = server.requests           # Request(method, path, headers, body)

An answer is a Reply, or a callable that makes one from each Request. `Reply(hold=True)` waits
for `server.release()` before answering: a slow receiver for tests of timeouts and crashes.
"""

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query string
    headers: dict[str, str]  # names as sent
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    hold: bool = False


Answer = Reply | Callable[[Request], Reply]


class HttpServer:
    def __init__(self, default: Answer = Reply()) -> None:
        self.requests: list[Request] = []
        self.answers: dict[str, Answer] = {}
        self.default = default
        self._arrived = threading.Condition()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, self))
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        """Whether `count` requests have arrived, waiting up to `timeout` seconds."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def release(self) -> None:
        """Lets the held replies go, and every later one."""
        self._released.set()

    def close(self) -> None:
        self.release()  # a held handler thread would otherwise outlive the test
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "HttpServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _answer(self, request: Request) -> Reply:
        # Recorded before the answer is made, so a held request already counts as arrived.
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        answer = self.answers.get(request.path, self.default)
        reply = answer(request) if callable(answer) else answer
        if reply.hold:
            self._released.wait()
        return reply


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, owner: HttpServer, *args: Any) -> None:
        self.owner = owner  # before super().__init__(), which handles the request
        super().__init__(*args)

    def _respond(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Request(self.command, self.path, dict(self.headers), body)
        reply = self.owner._answer(request)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up while the reply was held (timed out, or was killed)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _respond

    def log_message(self, *args: Any) -> None:
        pass  # keep the test output to the tests
