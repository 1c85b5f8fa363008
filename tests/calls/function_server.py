"""A local HTTP server that plays Twilio Functions, HTTP APIs and outside TwiML for call tests.

It listens on 127.0.0.1 in a thread. Each request is recorded with its form parameters and
whether its ``X-Twilio-Signature`` is valid for the account's auth token (None when unsigned);
answers come from `routes` by path: ``(status, body)`` or a callable of the recorded request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator

from sim import FlaskClientTransport, HttpTransport
from sim.transport import TransportResponse


@dataclass
class Hit:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    params: dict[str, str]
    signed: bool | None  # None: no X-Twilio-Signature header


Answer = tuple[int, Any] | Callable[[Hit], tuple[int, Any]]


@dataclass
class FunctionServer:
    """Serve `routes` (path -> answer) on 127.0.0.1; JSON-encode dict and list bodies."""

    auth_token: str
    routes: dict[str, Answer] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                params = dict(parse_qsl(body, keep_blank_values=True)) if self.command == "POST" else {}
                signature = self.headers.get("X-Twilio-Signature")
                signed = None
                if signature is not None:
                    url = f"{server.base}{self.path}"
                    signed = RequestValidator(server.auth_token).validate(url, params, signature)
                hit = Hit(self.command, parts.path, dict(parse_qsl(parts.query)), params, signed)
                server.hits.append(hit)
                answer = server.routes.get(parts.path, (404, {"error": "not found"}))
                status, content = answer(hit) if callable(answer) else answer
                text = json.dumps(content) if isinstance(content, dict | list) else str(content)
                kind = "application/json" if isinstance(content, dict | list) else "text/plain"
                if text.lstrip().startswith("<?xml") or text.lstrip().startswith("<Response"):
                    kind = "text/xml"
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a slow Function's caller timed out and left, as the test means it to

            do_GET = _answer  # noqa: N815  (http.server names its handlers so)
            do_POST = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:  # quiet
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"{self.base}/{path.lstrip('/')}"

    def to(self, path: str) -> list[Hit]:
        """The requests made to one path."""
        return [h for h in self.hits if h.path == "/" + path.lstrip("/")]

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


class SplitTransport:
    """The simulated Twilio's transport: this server over HTTP, everything else to the Flask app."""

    def __init__(self, server: FunctionServer, flask: FlaskClientTransport) -> None:
        self.server, self.flask, self.http = server, flask, HttpTransport()

    def _pick(self, url: str) -> Any:
        return self.http if url.startswith(self.server.base) else self.flask

    def post(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> TransportResponse:
        """POST to whichever side the URL names."""
        return self._pick(url).post(url, params, headers)

    def get(self, url: str, headers: Mapping[str, str]) -> TransportResponse:
        """GET from whichever side the URL names."""
        return self._pick(url).get(url, headers)
