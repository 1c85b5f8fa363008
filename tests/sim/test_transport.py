"""Transports: the Flask test client in-process, and real HTTP to a loopback server."""

from __future__ import annotations

import socket
import threading

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from sim import (
    CallerSimulator,
    FlaskClientTransport,
    HttpTransport,
    Press,
    RecordAudio,
    TransportError,
    TransportResponse,
)
from tests.sim.ivr_app import ACCOUNT_SID, AUTH_TOKEN, make_app, seen


def echo_app() -> Flask:
    app = Flask(__name__)

    @app.route("/echo", methods=["GET", "POST"])
    def echo():
        return {"url": request.url, "form": request.form.to_dict(), "sig": request.headers.get("X-Twilio-Signature")}

    return app


def test_flask_transport_splits_the_url_and_keeps_the_host():
    transport = FlaskClientTransport(echo_app().test_client())
    answer = transport.post("https://ivr.example.com:8443/echo?orgid=acme", {"A": "1"}, {"X-Twilio-Signature": "s"})

    assert isinstance(answer, TransportResponse)
    assert answer.status == 200 and answer.content_type == "application/json"
    assert '"url":"https://ivr.example.com:8443/echo?orgid=acme"' in answer.body.replace(" ", "")
    assert '"form":{"A":"1"}' in answer.body.replace(" ", "")
    status, content_type, body = transport.get("http://localhost/echo?x=1", {})
    assert status == 200 and '"url":"http://localhost/echo?x=1"' in body.replace(" ", "")


def test_flask_transport_base_url_overrides_the_host():
    transport = FlaskClientTransport(echo_app().test_client(), base_url="https://public.example.com/")
    answer = transport.post("http://localhost/echo", {}, {})
    assert '"url":"https://public.example.com/echo"' in answer.body.replace(" ", "")
    with pytest.raises(TransportError, match="absolute URL"):
        transport.post("/echo", {}, {})


def test_http_transport_refuses_anything_but_loopback():
    transport = HttpTransport(timeout=1)
    for url in ("http://example.com/voice", "http://10.0.0.1/voice", "http:///voice"):
        with pytest.raises(TransportError, match="only calls loopback"):
            transport.post(url, {}, {})


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_http_transport_reports_a_refused_connection():
    with pytest.raises(TransportError, match="failed"):
        HttpTransport(timeout=1).get(f"http://127.0.0.1:{closed_port()}/voice", {})


@pytest.fixture
def live_server():
    app = make_app()
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_whole_call_over_real_http(live_server):
    app, base = live_server
    sim = CallerSimulator(
        HttpTransport(timeout=5),
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_="+15551230000",
        to="+15559870000",
        status_callback_url="/status",
    )
    transcript = sim.run(f"{base}/voice", [Press("2"), RecordAudio(duration=9, transcript="Call me")])

    assert transcript.ok, transcript.text(include_requests=True)
    assert transcript.end_reason == "hangup"
    assert transcript.heard[-1] == "Thanks, your message of 9 seconds was saved."
    assert all(entry["signature_ok"] for entry in app.config["SEEN"])
    assert seen(app, "/transcription")[0]["form"]["TranscriptionText"] == "Call me"
    assert transcript.requests[0].url == f"{base}/voice"
    assert transcript.requests[-1].status == 204


def test_a_transport_failure_ends_the_call_with_an_error():
    sim = CallerSimulator(
        HttpTransport(timeout=1),
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_="+15551230000",
        to="+15559870000",
    )
    transcript = sim.run(f"http://127.0.0.1:{closed_port()}/voice", [])

    assert transcript.end_reason == "transport_error"
    assert transcript.requests[0].status is None
    assert "failed" in transcript.errors[0]


class RawServer:
    """A loopback HTTP server answering canned bytes, one answer per request, and counting connections."""

    def __init__(self, answers: list[bytes], close_after_each: bool = False) -> None:
        self.answers, self.close_after_each = list(answers), close_after_each
        self.connections, self.requests = 0, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                while self.answers:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                       if line.lower().startswith(b"content-length")), b"0"))
                    while len(body) < length:
                        body += conn.recv(65536)
                    self.requests.append(head.split(b"\r\n")[0].decode() + " " + body.decode())
                    answer = self.answers.pop(0)
                    conn.sendall(answer)
                    if self.close_after_each or answer.endswith(b"<!--close-->"):
                        break
        self.sock.close()


def test_http_transport_reads_every_response_framing_and_keeps_the_connection():
    server = RawServer([
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 11\r\n\r\n<Response/>",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9 till the end<!--close-->",
    ])
    transport = HttpTransport(timeout=5)
    base = f"http://127.0.0.1:{server.port}"
    assert transport.post(f"{base}/a?x=1", {"Digits": "1 2"}, {"X-Twilio-Signature": "s"}) == (
        200, "text/xml; charset=utf-8", "<Response/>")
    assert transport.get(f"{base}/b", {}) == (200, "text/plain", "hello, world")
    assert transport.post(f"{base}/c", {}, {}).status == 204
    assert transport.get(f"{base}/d", {}).body == "café till the end<!--close-->"
    server.thread.join(5)
    assert server.connections == 1  # kept alive until the HTTP/1.0 answer without a length
    assert server.requests[0] == "POST /a?x=1 HTTP/1.1 Digits=1+2"


def test_http_transport_sends_again_only_when_a_reused_connection_was_closed_before_any_answer():
    server = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"] * 2, close_after_each=True)
    transport = HttpTransport(timeout=5)
    url = f"http://127.0.0.1:{server.port}/a"
    assert transport.get(url, {}).body == "ok"
    assert transport.get(url, {}).body == "ok"  # the server closed the first connection: a new one
    server.thread.join(5)
    assert server.connections == 2 and len(server.requests) == 2

    truncated = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], close_after_each=True)
    with pytest.raises(TransportError, match="failed"):
        transport.get(f"http://127.0.0.1:{truncated.port}/a", {})
    truncated.thread.join(5)
    assert len(truncated.requests) == 1  # a cut-off answer is an error, never a second request
