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
import socket
import ssl
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


class _Closed(Exception):
    """The server closed the connection before answering."""


class _Connection:
    """One HTTP/1.1 connection: a request out, its response back (status, headers, body).

    Reads exactly what the response framing says (Content-Length, chunked, or to the end
    of the stream) and keeps the connection unless either side asked to close it.
    """

    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        self.sock, self.buffer = sock, b""
        self.netloc = host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def _until(self, marker: bytes, limit: int = 65536, first: bool = False) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            if len(self.buffer) > limit:
                raise http.client.HTTPException("response header too long")
            if not self._fill():
                # Closed before the first byte of an answer: the request can be sent again.
                raise _Closed() if first and not self.buffer else http.client.IncompleteRead(self.buffer)
        line, self.buffer = self.buffer[:end], self.buffer[end + len(marker):]
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise http.client.IncompleteRead(self.buffer, size - len(self.buffer))
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _chunked(self) -> bytes:
        parts = []
        while True:
            size_line = self._until(b"\r\n").split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as err:
                raise http.client.HTTPException(f"bad chunk size {size_line!r}") from err
            if size == 0:
                while self._until(b"\r\n"):  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._exactly(2)

    def exchange(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None):
        """Send one request and read its response: ``(status, headers, body, will_close)``."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b""))
        first = True
        while True:
            head = self._until(b"\r\n\r\n", first=first).decode("latin-1").split("\r\n")
            first = False
            version, _, rest = head[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/") or not code.isdigit():
                raise http.client.BadStatusLine(head[0])
            status = int(code)
            if status >= 200 or status == 101:
                break  # 1xx interim answers (100 Continue) are skipped
        fields: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        will_close = fields.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if method == "HEAD" or status in (204, 304):
            data = b""
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            data = self._chunked()
        elif "content-length" in fields:
            data = self._exactly(int(fields["content-length"]))
        else:
            while self._fill():
                pass
            data, self.buffer, will_close = self.buffer, b"", True
        return status, fields, data, will_close


class HttpTransport:
    """Requests over real HTTP to a server on this machine (loopback addresses only).

    One kept-alive HTTP/1.1 connection per host and port, on a plain socket: a load generator
    sharing the machine with the server under test should cost it little, and the standard
    library's `http.client` spends most of its time parsing headers with the e-mail parser.
    A request that fails on a reused connection the server had closed meanwhile (its
    keep-alive timeout) is sent once more on a fresh one, as HTTP clients do; any other
    failure is a `TransportError`. Not thread-safe: give each thread its own transport.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._connections: dict[tuple[str, int], _Connection] = {}

    def _connection(self, scheme: str, host: str, port: int) -> tuple[_Connection, bool]:
        conn = self._connections.get((host, port))
        if conn is not None:
            return conn, True
        conn = self._connections[(host, port)] = _Connection(scheme, host, port, self.timeout)
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
        payload = body.encode() if body is not None else None
        for attempt in (1, 2):
            reused = False
            try:
                conn, reused = self._connection(parts.scheme, host, port)
                status, fields, data, will_close = conn.exchange(method, target, send_headers, payload)
            except (_Closed, BrokenPipeError, ConnectionResetError) as err:
                self._drop(host, port)
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection: once more on a new one
                raise TransportError(f"{method} {url} failed: {err or 'connection closed'}") from err
            except (OSError, ValueError, http.client.HTTPException) as err:
                self._drop(host, port)
                raise TransportError(f"{method} {url} failed: {err}") from err
            if will_close:
                self._drop(host, port)
            content_type = fields.get("content-type", "")
            return TransportResponse(status, content_type, data.decode(_charset(content_type), errors="replace"))
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
