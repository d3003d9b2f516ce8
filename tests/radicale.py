"""A real CalDAV server inside the test: Radicale (from PyPI) in a subprocess on a free
loopback port, password auth (htpasswd, plain), its storage in the test's tmp_path.

    def test_it_syncs(radicale):
        url = radicale.make_calendar("work")            # a calendar collection's URL
        radicale.put_event(url, "e1", ICS_TEXT)         # a raw PUT of an event
        ... connect with radicale.url, radicale.username, radicale.password ...

`radicale.stop()` / `radicale.start()`: nothing listens on the port in between (the port and
the stored calendars stay), for outage tests.
"""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from tests.smtp import free_port

USERNAME = "alex"
PASSWORD = "radicale-app-password-7f3k"


class Radicale:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.username = USERNAME
        self.password = PASSWORD
        self.url = f"http://127.0.0.1:{self.port}/"
        self.home = f"{self.url}{USERNAME}/"
        (root / "collections").mkdir(parents=True, exist_ok=True)
        (root / "users").write_text(f"{USERNAME}:{PASSWORD}\n")
        self.config = root / "config"
        self.config.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {root / 'users'}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {root / 'collections'}\n"
            "[logging]\n"
            "level = warning\n"
        )
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError("Radicale exited at start-up") from None
                time.sleep(0.05)
        raise RuntimeError("Radicale did not start listening")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    # Plain WebDAV requests, so that setting up a test does not go through the code under test.

    def _request(self, method: str, url: str, body: bytes = b"", content_type: str = "") -> int:
        auth = b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(url, data=body or None, method=method)
        request.add_header("Authorization", f"Basic {auth}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def make_calendar(self, slug: str, name: str | None = None) -> str:
        url = f"{self.home}{slug}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{name or slug}</D:displayname>"
            '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
            "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
        ).encode()
        status = self._request("MKCALENDAR", url, body, "application/xml")
        assert status == 201, status
        return url

    def put_event(self, calendar_url: str, name: str, ics: str) -> None:
        status = self._request(
            "PUT", f"{calendar_url}{name}.ics", ics.encode(), "text/calendar; charset=utf-8"
        )
        assert status in (201, 204), status

    def delete_event(self, calendar_url: str, name: str) -> None:
        assert self._request("DELETE", f"{calendar_url}{name}.ics") in (200, 204)

    def collection_folder(self, calendar_url: str) -> Path:
        """Where Radicale stores a calendar's events, one file each."""
        return self.root / "collections" / "collection-root" / calendar_url[len(self.url) :]

    def event_files(self, calendar_url: str) -> list[str]:
        """The .ics texts stored in a calendar (read from Radicale's storage folder)."""
        return sorted(p.read_text() for p in self.collection_folder(calendar_url).glob("*.ics"))


@pytest.fixture
def radicale(tmp_path):
    server = Radicale(tmp_path / "radicale")
    server.start()
    try:
        yield server
    finally:
        server.stop()
