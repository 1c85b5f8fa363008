"""The official ``twilio`` client, pointed at a configurable REST base URL with a timeout.

twilio-python builds every REST URL as ``https://api.twilio.com/2010-04-01/...`` (the
``Api`` domain's fixed base URL; pages follow ``next_page_uri`` through the same domain).
All requests, whichever resource or page produced them, end in the client's
``HttpClient.request(method, url, ...)``. ``BaseUrlHttpClient`` rewrites the origin there,
so nothing in twilio's generated code needs patching and every path is covered: a
regional edge (``https://api.dublin.ie1.twilio.com``) or a local stand-in
(``http://127.0.0.1:8765``) receives exactly what api.twilio.com would have.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_BASE_URL = "https://api.twilio.com"
# api.twilio.com and its edge/region forms (api.sydney.au1.twilio.com), only at the start of the URL.
_TWILIO_API_ORIGIN = re.compile(r"^https://api(?:\.[a-z0-9-]+){0,2}\.twilio\.com(?=/|$)", re.IGNORECASE)


class TwilioUnreachableError(TwilioException):
    """Twilio's REST API did not answer: connection refused or dropped, or the timeout passed."""

    def __init__(self, url: str, reason: str, timed_out: bool) -> None:
        super().__init__(f"Twilio API unreachable at {url}: {reason}")
        self.url = url
        self.reason = reason
        self.timed_out = timed_out


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio's HTTP client sending api.twilio.com requests to ``base_url`` instead.

    Network failures surface as ``TwilioUnreachableError`` (a ``TwilioException``) naming
    the origin and saying whether the timeout struck, instead of raw ``requests`` errors.
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, timeout: float = 10, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)
        self.base_url = normalise_base_url(base_url)

    def rewrite(self, url: str) -> str:
        """The URL to request: ``url`` with an api.twilio.com origin replaced by ``base_url``."""
        return _TWILIO_API_ORIGIN.sub(lambda _: self.base_url, url, count=1)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Send the request to the rewritten URL (see ``TwilioHttpClient.request``)."""
        target = self.rewrite(url)
        try:
            return super().request(method, target, *args, **kwargs)
        except requests.Timeout as exc:
            raise TwilioUnreachableError(self.base_url, f"no answer within {self.timeout}s", True) from exc
        except requests.ConnectionError as exc:
            raise TwilioUnreachableError(self.base_url, _reason(exc), False) from exc


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower():
        return "connection closed without a response"
    return type(exc).__name__


def normalise_base_url(base_url: str) -> str:
    """Validate an http(s) base URL (no query or fragment) and drop its trailing slash."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"TWILIO_API_BASE_URL must be an http(s) URL like https://api.twilio.com, got {base_url!r}")
    return base_url.strip().rstrip("/")


def make_twilio_client(
    account_sid: str, *, auth_token: str | None = None, api_key: str | None = None,
    api_key_secret: str | None = None, base_url: str | None = None, timeout: float = 10,
) -> Client:
    """The official ``twilio.rest.Client`` for an account, talking to ``base_url`` with ``timeout``.

    Authenticates with the API key and secret when both are given, else with the auth
    token. ``base_url`` is the ``TWILIO_API_BASE_URL`` setting (``None`` means
    https://api.twilio.com); with any other base, the ``TWILIO_EDGE``/``TWILIO_REGION``
    environment variables are ignored so they cannot send requests elsewhere.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if (api_key is None) != (api_key_secret is None):
        raise ValueError("api_key and api_key_secret go together")
    if api_key is not None:
        username, password = api_key, api_key_secret
    elif auth_token:
        username, password = account_sid, auth_token
    else:
        raise ValueError("an auth_token or an api_key with its api_key_secret is required")
    http_client = BaseUrlHttpClient(base_url or DEFAULT_BASE_URL, timeout=timeout)
    client = Client(username, password, account_sid, http_client=http_client)
    if http_client.base_url != DEFAULT_BASE_URL:
        client.edge = None
        client.region = None
    return client


@dataclass(frozen=True)
class TwilioErrorInfo:
    """What a failed Twilio call said: HTTP status and Twilio code (``None`` when Twilio never answered)."""

    status: int | None
    code: int | None
    message: str


def error_info(exc: TwilioException) -> TwilioErrorInfo:
    """Status, Twilio code and message of any exception the twilio client raises.

    Besides ``TwilioRestException`` (fetch, create, update, delete) twilio-python raises a
    bare ``TwilioException("Unable to fetch page", response)`` when a list page fails, and
    this module raises ``TwilioUnreachableError`` when nothing answers.
    """
    if isinstance(exc, TwilioRestException):
        return TwilioErrorInfo(exc.status, exc.code, exc.msg)
    if isinstance(exc, TwilioUnreachableError):
        return TwilioErrorInfo(None, None, str(exc))
    if len(exc.args) == 2 and isinstance(exc.args[1], Response):
        response = exc.args[1]
        try:
            body = json.loads(response.text)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = body.get("message") or f"{exc.args[0]} (HTTP {response.status_code})"
        return TwilioErrorInfo(response.status_code, body.get("code", response.status_code), message)
    return TwilioErrorInfo(None, None, str(exc))
