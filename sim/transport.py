"""How the simulated Twilio reaches the application under test.

A transport takes an absolute URL, form parameters and headers and answers
`TransportResponse(status, content_type, body)`. `FlaskClientTransport` drives a Flask
test client in-process (no Flask import here: the client is duck-typed);
`HttpTransport` talks HTTP to a live server on the loopback interface.
"""

from __future__ import annotations

import codecs
import http.client
import ipaddress
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlencode, urlsplit

__all__ = [
    "FlaskClientTransport",
    "HttpTransport",
    "Transport",
    "TransportError",
    "TransportResponse",
]


class TransportResponse(NamedTuple):
    """An HTTP answer: status code, Content-Type header and body text."""

    status: int
    content_type: str
    body: str


class TransportError(Exception):
    """The request could not be made or got no HTTP answer at all."""


class Transport(Protocol):
    """Sends the simulator's webhook requests."""

    def post(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> TransportResponse:
        """POST `params` form-encoded to the absolute `url`."""
        ...

    def get(self, url: str, headers: Mapping[str, str]) -> TransportResponse:
        """GET the absolute `url` (its query already holds the parameters)."""
        ...


class FlaskClientTransport:
    """Requests through a Flask/werkzeug test client.

    The absolute URL is split into the path and query the client wants; the
    scheme and host become the client's `base_url` (so `request.url` matches the
    URL that was signed), unless `base_url` is given here to override them.
    """

    def __init__(self, test_client: Any, base_url: str | None = None) -> None:
        self.client = test_client
        self.base_url = base_url.rstrip("/") if base_url else None

    def _open(self, method: str, url: str, headers: Mapping[str, str], data: Any) -> TransportResponse:
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise TransportError(f"expected an absolute URL, got {url!r}")
        base = self.base_url or f"{parts.scheme}://{parts.netloc}"
        response = self.client.open(
            parts.path or "/",
            method=method,
            base_url=base,
            query_string=parts.query,
            headers=dict(headers),
            data=data,
        )
        return TransportResponse(
            status=response.status_code,
            content_type=response.content_type or "",
            body=response.get_data(as_text=True),
        )

    def post(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> TransportResponse:
        """POST form parameters through the test client."""
        return self._open("POST", url, headers, dict(params))

    def get(self, url: str, headers: Mapping[str, str]) -> TransportResponse:
        """GET through the test client."""
        return self._open("GET", url, headers, None)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpTransport:
    """Requests over real HTTP to a server on this machine (loopback addresses only).

    One kept-alive connection per host and port, on the standard library's `http.client`: a
    load generator sharing the machine with the server under test should cost it little. A
    request that fails on a reused connection the server had closed meanwhile (its keep-alive
    timeout) is sent once more on a fresh one, as HTTP clients do; any other failure is a
    `TransportError`. Not thread-safe: give each thread its own transport.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._connections: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def _connection(self, scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
        conn = self._connections.get((host, port))
        if conn is not None:
            return conn, True
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = cls(host, port, timeout=self.timeout)
        self._connections[(host, port)] = conn
        return conn, False

    def _drop(self, host: str, port: int) -> None:
        conn = self._connections.pop((host, port), None)
        if conn is not None:
            conn.close()

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: str | None) -> TransportResponse:
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not _is_loopback(host):
            raise TransportError(f"HttpTransport only calls loopback servers, not {host!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        send_headers = dict(headers)
        if body is not None:
            send_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        for attempt in (1, 2):
            conn, reused = self._connection(parts.scheme, host, port)
            try:
                conn.request(method, target, body=body.encode() if body is not None else None, headers=send_headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self._drop(host, port)
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: once more on a new one
                raise TransportError(f"{method} {url} failed: {err}") from err
            except (OSError, http.client.HTTPException) as err:
                self._drop(host, port)
                raise TransportError(f"{method} {url} failed: {err}") from err
            if response.will_close:
                self._drop(host, port)
            content_type = response.getheader("Content-Type", "")
            return TransportResponse(response.status, content_type, data.decode(_charset(content_type)))
        raise AssertionError("unreachable")

    def post(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> TransportResponse:
        """POST form parameters to a live loopback server."""
        return self._send("POST", url, headers, urlencode(list(params.items())))

    def get(self, url: str, headers: Mapping[str, str]) -> TransportResponse:
        """GET from a live loopback server."""
        return self._send("GET", url, headers, None)

    def close(self) -> None:
        """Close the kept-alive connections."""
        for host, port in list(self._connections):
            self._drop(host, port)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                break
    return "utf-8"
