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
