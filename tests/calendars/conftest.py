"""A loopback web server for ICS subscriptions (tests/http_server.py); answer a feed with
tests.calendars.connected.serve_ics."""

import pytest

from tests.http_server import HttpServer


@pytest.fixture
def ics_server():
    with HttpServer() as server:
        yield server
