"""The processes the bench starts and stops: gunicorn, a Celery worker, an SMTP sink."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench.load import fetch

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# Sized for 2 cores shared with the load generator: two processes cover both cores, and a
# few threads each keep a core busy while another request waits on PostgreSQL. gthread also
# keeps connections alive, as a proxy in front of gunicorn would.
# --reuse-port: each worker listens on its own socket and the kernel spreads new
# connections between them. With one shared socket, whichever worker woke first often
# accepted all 16 of the load generator's keep-alive connections, so one process ran at
# 100% and the other idled: the same row measured 790 or 1,560 req/s from run to run.
# (Not in `make serve`: a restarting worker drops the connections queued on its socket.)
GUNICORN_ARGS = "--worker-class gthread --workers 2 --threads 4 --backlog 512 --reuse-port"


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # utime and stime are the 14th and 15th fields of stat; fields[0] here is the 3rd.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM our own child (gunicorn's master, Celery's main process: each stops its
    workers), then KILL its process group (it was started in a new session) if it hangs."""
    if process.poll() is not None:
        return
    try:
        process.terminate()
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


class Gunicorn:
    def __init__(self, *, port: int, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.env = env
        self.log_path = log_path
        self.args = shlex.split(os.environ.get("BENCH_GUNICORN_ARGS", GUNICORN_ARGS))
        self.process: subprocess.Popen | None = None

    @property
    def description(self) -> str:
        return "gunicorn " + " ".join(self.args)

    def start(self, *, ready_timeout: float = 60) -> None:
        command = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--error-logfile",
            str(self.log_path),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "5",
            *self.args,
        ]
        # Django logs (a 500's traceback) go to the workers' stderr: keep them with gunicorn's.
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start-up:\n{self.log_tail()}")
            try:
                status, _ = fetch("127.0.0.1", self.port, "GET", "/api/ping/", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"gunicorn did not answer /api/ping/ in {ready_timeout}s:\n{self.log_tail()}"
        )

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        return children(self.process.pid) if self.process is not None else []

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers: the server's
        own cost, which other work on the machine slows down less than it slows latency."""
        if self.process is None:
            return 0.0
        return sum(process_cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self._log.close()


class CeleryWorker:
    """One Celery worker process on the bench's Redis database."""

    def __init__(self, *, env: dict[str, str], log_path: Path, concurrency: int = 2) -> None:
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.name = f"bench-{os.getpid()}@{socket.gethostname()}"
        self.process: subprocess.Popen | None = None

    @property
    def description(self) -> str:
        return f"1 celery worker, prefork, concurrency {self.concurrency}"

    def start(self) -> None:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the worker answers a remote-control ping (it is consuming then)."""
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"celery worker exited:\n{self.log_tail()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"celery worker not ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cpu_seconds(self) -> float:
        """CPU time of the worker and its pool processes so far."""
        if self.process is None:
            return 0.0
        pids = [self.process.pid, *children(self.process.pid)]
        return sum(process_cpu_seconds(pid) for pid in pids)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, timeout=30)
            self._log.close()


class SmtpSink:
    """A local SMTP server that keeps every message it receives, by recipient."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], bytes, float]] = []
        self.by_recipient: defaultdict[str, int] = defaultdict(int)
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                received = time.perf_counter()
                with sink.lock:
                    sink.messages.append((list(envelope.rcpt_tos), envelope.content, received))
                    for rcpt in envelope.rcpt_tos:
                        sink.by_recipient[rcpt.lower()] += 1
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.by_recipient.clear()

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
