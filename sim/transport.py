"""How the simulated Twilio reaches the application under test.

A transport takes an absolute URL, form parameters and headers and answers
`TransportResponse(status, content_type, body)`. `FlaskClientTransport` drives a Flask
test client in-process (no Flask import here: the client is duck-typed);
`HttpTransport` talks HTTP to a live server on the loopback interface.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

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
    """Requests over real HTTP to a server on this machine (loopback addresses only)."""

    def __init__(self, timeout: float = 10.0, session: Any = None) -> None:
        import requests

        self.timeout = timeout
        self.session = session or requests.Session()
        self._request_exception = requests.RequestException

    def _send(self, method: str, url: str, headers: Mapping[str, str], data: Any) -> TransportResponse:
        host = urlsplit(url).hostname
        if not _is_loopback(host):
            raise TransportError(f"HttpTransport only calls loopback servers, not {host!r}")
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers=dict(headers),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except self._request_exception as err:
            raise TransportError(f"{method} {url} failed: {err}") from err
        return TransportResponse(
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            body=response.text,
        )

    def post(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> TransportResponse:
        """POST form parameters to a live loopback server."""
        return self._send("POST", url, headers, dict(params))

    def get(self, url: str, headers: Mapping[str, str]) -> TransportResponse:
        """GET from a live loopback server."""
        return self._send("GET", url, headers, None)
