"""Serving the fake on 127.0.0.1 in a background thread, and the ``twilio-fake`` CLI entry."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qsl

from werkzeug.datastructures import Authorization
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_fake_app
from .faults import with_network_faults
from .state import FakeTwilioState

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger("upstream.twilio_fake")
POLL_INTERVAL = 0.05


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler, quiet, and able to drop connections while the fake is "down"."""

    server: BaseWSGIServer

    def run_wsgi(self) -> None:
        state: FakeTwilioState = self.server.fake_state  # type: ignore[attr-defined]
        if state.down_mode == "close":
            path, _, query = self.path.partition("?")
            auth = Authorization.from_header(self.headers.get("Authorization"))
            headers = dict(self.headers.items())
            state.log_request(self.command, path, parse_qsl(query), headers, auth and auth.username, 0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        super().run_wsgi()

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        """A fault dropped the answer (or the client left): close the connection without a word."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are in ``state.requests``; no access log on stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        log.debug("%s: " + message, type, *args)


class FakeTwilioServer:
    """A fake api.twilio.com on ``host`` (default 127.0.0.1) and a free port, served from a thread.

    Use ``with FakeTwilioServer() as fake:`` or ``start()``/``stop()``. ``provision()`` adds an
    account and an API key and remembers their credentials as attributes.
    """

    def __init__(self, state: FakeTwilioState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state or FakeTwilioState()
        self.host = host
        self.port = port
        self.account_sid: str | None = None
        self.auth_token: str | None = None
        self.api_key: str | None = None
        self.api_key_secret: str | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to use instead of https://api.twilio.com."""
        if self._server is None:
            raise RuntimeError("FakeTwilioServer is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeTwilioServer:
        """Bind the port and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        app = with_network_faults(create_fake_app(self.state), lambda: self.state.network_faults)
        server = make_server(self.host, self.port, app, threaded=True, request_handler=_Handler)
        server.fake_state = self.state  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL},
            name=f"fake-twilio-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (requests already waiting in ``hang`` mode are abandoned)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def provision(
        self, account_sid: str | None = None, auth_token: str | None = None,
        api_key: str | None = None, api_key_secret: str | None = None,
    ) -> FakeTwilioServer:
        """Add an account and a standard API key to the state and keep their credentials on self."""
        account = self.state.add_account(account_sid, auth_token)
        key = self.state.add_api_key(account.sid, api_key, api_key_secret)
        self.account_sid, self.auth_token = account.sid, account.auth_token
        self.api_key, self.api_key_secret = key.sid, key.secret
        return self

    def client(self, *, use_api_key: bool = False, timeout: float = 5) -> Client:
        """The real ``twilio`` client pointed at this server, as the provisioned account."""
        from upstream.twilio_http import make_twilio_client

        if self.account_sid is None:
            raise RuntimeError("call provision() first")
        if use_api_key:
            return make_twilio_client(
                self.account_sid, api_key=self.api_key, api_key_secret=self.api_key_secret,
                base_url=self.url, timeout=timeout,
            )
        return make_twilio_client(self.account_sid, auth_token=self.auth_token, base_url=self.url, timeout=timeout)

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1", port: int = 0, account_sid: str | None = None, auth_token: str | None = None,
    *, block: bool = True, out: TextIO | None = None,
) -> FakeTwilioServer:
    """Run a fake Twilio for local development and print how to point Phonetree at it.

    Blocks until Ctrl-C unless ``block`` is false, in which case the running server is
    returned (the caller stops it).
    """
    out = out or sys.stdout
    server = FakeTwilioServer(FakeTwilioState(), host, port).start()
    server.provision(account_sid, auth_token)
    print(f"Fake Twilio REST API listening on {server.url}", file=out)
    print(f"  export TWILIO_API_BASE_URL={server.url}", file=out)
    print(f"  Account SID:    {server.account_sid}", file=out)
    print(f"  Auth token:     {server.auth_token}", file=out)
    print(f"  API key:        {server.api_key}", file=out)
    print(f"  API key secret: {server.api_key_secret}", file=out)
    out.flush()
    if not block:
        return server
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping fake Twilio.", file=out)
    finally:
        server.stop()
    return server
