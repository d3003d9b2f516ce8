"""Load generators: wrk for plain GETs, a Python client for requests that need own bodies.

Both keep a fixed concurrency for a fixed time and run on the same 2-core machine as the
server, which the table says.
"""

import http.client
import re
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bench.stats import LoadResult, summarize


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    tag: object = None  # whatever the caller needs back with the answer
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Answer:
    request: Request
    status: int  # 0 when the transport failed
    body: bytes
    latency: float


JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class TransportError(Exception):
    """The connection broke or the server's answer was not HTTP/1.1 we can read."""


class KeepAliveClient:
    """One keep-alive HTTP/1.1 connection that writes requests as prepared bytes and reads
    only the status line, Content-Length (or chunks) and the body.

    The load generator shares the 2 cores with the server; http.client parses every
    answer's headers through the email package, which cost the POST rows about a tenth of
    the machine. This does the same exchange for a fraction of that (wrk does it for GETs).
    """

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        try:
            status = int(head[0].split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise TransportError(f"not an HTTP status line: {head[0]!r}") from exc
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            answer = self._read_exactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            answer = self._read_chunks()
        else:  # the body runs to the end of the connection
            answer = self._buffer + self._read_to_close()
            self.close()
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def _recv(self) -> bytes:
        assert self._sock is not None
        data = self._sock.recv(65536)
        if not data:
            raise TransportError("connection closed by the server")
        return data

    def _read_until(self, marker: bytes) -> bytes:
        while (at := self._buffer.find(marker)) < 0:
            self._buffer += self._recv()
        found, self._buffer = self._buffer[:at], self._buffer[at + len(marker) :]
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._buffer += self._recv()
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _read_chunks(self) -> bytes:
        parts = []
        while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
            parts.append(self._read_exactly(size))
            self._read_until(b"\r\n")
        self._read_until(b"\r\n")  # the empty trailer
        return b"".join(parts)

    def _read_to_close(self) -> bytes:
        assert self._sock is not None
        parts = []
        while data := self._sock.recv(65536):
            parts.append(data)
        return b"".join(parts)


def ensure_wrk() -> str | None:
    """The wrk binary, installed from Debian's packages when missing (we run as root).
    None when it cannot be had; callers then fall back to the Python client."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if not apt:
        return None
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = [apt, "install", "-y", "-q", "wrk"]
    # A fresh machine may have no package lists yet: update once, then try again.
    for step in (install, [apt, "update", "-q"], install):
        try:
            subprocess.run(step, env=env, capture_output=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if shutil.which("wrk"):
            return shutil.which("wrk")
    return None


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """Read wrk's --latency report. Non-2xx/3xx answers are counted under status 0."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    total = re.search(r"^\s*(\d+) requests in (\S+?),", output, re.MULTILINE)
    if not total or set(percentiles) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    requests = int(total.group(1))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = sum(int(n) for n in socket.groups()) if socket else 0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_ok = int(bad.group(1)) if bad else 0
    return LoadResult(
        requests=requests,
        duration=_seconds(total.group(2)),
        p50=_seconds(percentiles["50"]),
        p99=_seconds(percentiles["99"]),
        statuses={200: requests - non_ok, **({0: non_ok} if non_ok else {})},
        errors=errors,
        tool="wrk",
    )


def run_wrk(
    wrk: str, url: str, *, concurrency: int, duration: float, threads: int = 2
) -> LoadResult:
    completed = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


def run_python(
    host: str,
    port: int,
    *,
    concurrency: int,
    duration: float,
    next_request: Callable[[], Request | None],
    on_answer: Callable[[Answer], None] | None = None,
    timeout: float = 30.0,
) -> LoadResult:
    """`concurrency` threads, each on its own keep-alive connection, send requests until
    `duration` has passed or `next_request` returns None. Latency is send-to-last-byte."""
    barrier = threading.Barrier(concurrency + 1)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    finished_at: list[float] = []
    deadline = 0.0

    def worker() -> None:
        nonlocal errors
        conn = KeepAliveClient(host, port, timeout=timeout)
        mine: list[float] = []
        seen: Counter[int] = Counter()
        failed = 0
        barrier.wait()
        try:
            while time.perf_counter() < deadline:
                request = next_request()
                if request is None:
                    break
                began = time.perf_counter()
                try:
                    status, body = conn.request(
                        request.method,
                        request.path,
                        request.body,
                        {
                            **(JSON_HEADERS if request.body is not None else {}),
                            **dict(request.headers),
                        },
                    )
                except (OSError, TransportError, ValueError):
                    conn.close()
                    failed += 1
                    status, body = 0, b""
                latency = time.perf_counter() - began
                if status:
                    mine.append(latency)
                    seen[status] += 1
                if on_answer is not None:
                    on_answer(Answer(request=request, status=status, body=body, latency=latency))
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                statuses.update(seen)
                errors += failed
                finished_at.append(time.perf_counter())

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline = started + duration
    barrier.wait()
    for thread in threads:
        thread.join(duration + timeout + 10)
    elapsed = max(finished_at, default=time.perf_counter()) - started
    return summarize(latencies, elapsed, statuses=dict(statuses), errors=errors, tool="python")


def fetch(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request on a fresh connection: for probes and set-up, not for measuring."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent = {**(JSON_HEADERS if body is not None else {}), **(headers or {})}
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_burst(
    host: str, port: int, requests: list[Request], *, timeout: float = 60.0
) -> list[Answer]:
    """Each request on its own connection, opened beforehand, all released together."""
    barrier = threading.Barrier(len(requests))
    answers: list[Answer] = []
    lock = threading.Lock()

    def worker(request: Request) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
            barrier.wait()
            began = time.perf_counter()
            try:
                conn.request(request.method, request.path, body=request.body, headers=JSON_HEADERS)
                response = conn.getresponse()
                status, body = response.status, response.read()
            except (OSError, http.client.HTTPException):
                status, body = 0, b""
            answer = Answer(
                request=request, status=status, body=body, latency=time.perf_counter() - began
            )
            with lock:
                answers.append(answer)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(r,), daemon=True) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 10)
    return answers
