"""bench.load.KeepAliveClient against a scripted server on loopback: the answers it must
read the way http.client would (length, chunks, close), one connection for many."""

import socket
import threading

import pytest

from bench.load import KeepAliveClient, TransportError


class ScriptedServer:
    """Accepts connections and answers each request (read up to its blank line and body)
    with the next of `answers`; records the requests and how many connections it saw."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self._listener.accept()
            self.connections += 1
            with conn:
                buffer = b""
                while self.answers:
                    while b"\r\n\r\n" not in buffer:
                        data = conn.recv(65536)
                        if not data:
                            break
                        buffer += data
                    if b"\r\n\r\n" not in buffer:
                        break
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                    buffer = buffer[length:]
                    answer = self.answers.pop(0)
                    conn.sendall(answer)
                    if b"Connection: close" in answer:
                        break


def client_for(server: ScriptedServer) -> KeepAliveClient:
    return KeepAliveClient("127.0.0.1", server.port, timeout=5)


OK = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"id":1}'


def test_it_sends_the_body_with_its_length_and_reads_the_answer():
    server = ScriptedServer([OK])

    status, body = client_for(server).request(
        "POST", "/api/x/", b'{"a": 1}', {"Content-Type": "application/json"}
    )

    assert (status, body) == (201, b'{"id":1}')
    request = server.requests[0]
    assert request.startswith(b"POST /api/x/ HTTP/1.1\r\n")
    assert b"Content-Length: 8\r\n" in request
    assert request.endswith(b'\r\n\r\n{"a": 1}')


def test_it_keeps_one_connection_for_many_requests():
    server = ScriptedServer([OK, OK, OK])
    client = client_for(server)

    answers = [client.request("GET", "/", None, {}) for _ in range(3)]

    assert answers == [(201, b'{"id":1}')] * 3
    assert server.connections == 1


def test_it_reads_a_chunked_answer():
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n\r\n"
    )
    server = ScriptedServer([chunked, OK])
    client = client_for(server)

    assert client.request("GET", "/", None, {}) == (200, b"Wikipedia ")
    assert client.request("GET", "/", None, {}) == (201, b'{"id":1}')  # framing kept


def test_it_reconnects_after_the_server_says_close():
    closing = b"HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    server = ScriptedServer([closing, OK])
    client = client_for(server)

    assert client.request("GET", "/", None, {}) == (409, b"{}")
    assert client.request("GET", "/", None, {}) == (201, b'{"id":1}')
    assert server.connections == 2


def test_it_reads_a_body_that_runs_to_the_end_of_the_connection():
    server = ScriptedServer([b"HTTP/1.0 200 OK\r\n\r\nall of it"])

    assert client_for(server).request("GET", "/", None, {}) == (200, b"all of it")


def test_it_fails_on_an_answer_that_is_not_http():
    server = ScriptedServer([b"SSH-2.0-OpenSSH\r\n\r\n"])

    with pytest.raises(TransportError, match="status line"):
        client_for(server).request("GET", "/", None, {})
