"""What the engine asks of the outside world, as a Protocol, plus null and fake versions.

The call runtime implements `Services` (HTTP with SSRF guards, messages through the org's
provider, published flows from the database, online softphones, Twilio request signatures).
The engine only calls these methods; anything they raise becomes the node's `failed` outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from twilio.request_validator import RequestValidator


class ServiceUnavailableError(RuntimeError):
    """Raised by `NullServices` for anything that would reach outside."""


@runtime_checkable
class Services(Protocol):
    """Side effects available to nodes during a turn."""

    def http_request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None, timeout: float
    ) -> tuple[int, str]:
        """Perform an HTTP request; returns (status code, response text). Raises on failure."""
        ...

    def send_message(self, to: str, from_: str, body: str, media: list[str]) -> str:
        """Send a text message (SMS, or MMS with media URLs) from a number, an alphanumeric sender
        or a messaging service SID (``MG...``); returns its sid. Raises on failure; an error
        with a ``code`` attribute (Twilio's, such as 21610) is the node's ``widgets.X.error``."""
        ...

    def load_flow(self, flow_id: str) -> dict[str, Any] | None:
        """The published definition of another flow of the same org, or None."""
        ...

    def online_clients(self, users: list[str]) -> list[str]:
        """Twilio Client identities of those users whose softphones are online now."""
        ...

    def number_users(self) -> list[str]:
        """The users (e-mails) assigned to the number the call is for, in a stable order."""
        ...

    def twilio_signature(self, url: str, params: Mapping[str, str]) -> str:
        """``X-Twilio-Signature`` for a POST of form `params` to `url`, computed with the org's
        auth token (which never leaves the provider). Raises when the org has no Twilio account."""
        ...


class NullServices:
    """Services that do nothing: no network, no flows, nobody online."""

    def http_request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None, timeout: float
    ) -> tuple[int, str]:
        """Always fails: there is no network here."""
        raise ServiceUnavailableError("HTTP requests are not available")

    def send_message(self, to: str, from_: str, body: str, media: list[str]) -> str:
        """Always fails: there is no messaging provider here."""
        raise ServiceUnavailableError("messaging is not available")

    def load_flow(self, flow_id: str) -> dict[str, Any] | None:
        """No other flows."""
        return None

    def online_clients(self, users: list[str]) -> list[str]:
        """Nobody is online."""
        return []

    def number_users(self) -> list[str]:
        """Nobody is assigned."""
        return []

    def twilio_signature(self, url: str, params: Mapping[str, str]) -> str:
        """Always fails: there is no Twilio account here."""
        raise ServiceUnavailableError("Twilio signatures are not available")


HttpAnswer = tuple[int, str] | Exception | Callable[[str, str, Mapping[str, str], str | None], tuple[int, str]]


@dataclass
class FakeServices:
    """Scripted services for tests and the simulator; every call is recorded in `calls`.

    `http` maps a URL (exact, or without its query string) to ``(status, text)``, an exception
    to raise, or a callable ``(method, url, headers, body) -> (status, text)``. Signatures are
    computed with `auth_token`, as Twilio would with the account's.
    """

    http: dict[str, HttpAnswer] = field(default_factory=dict)
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    online: dict[str, str] = field(default_factory=dict)  # user -> client identity
    assigned: list[str] = field(default_factory=list)  # the called number's users
    sms_error: Exception | None = None
    auth_token: str = "fake-auth-token"
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    _sms_count: int = 0

    def http_request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None, timeout: float
    ) -> tuple[int, str]:
        """The scripted answer for `url` (404 when none)."""
        self.calls.append(("http_request", (method, url, dict(headers), body, timeout)))
        answer = self.http.get(url, self.http.get(url.split("?")[0]))
        if answer is None:
            return 404, '{"error": "not found"}'
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(method, url, headers, body)
        return answer

    def send_message(self, to: str, from_: str, body: str, media: list[str]) -> str:
        """A predictable sid, or the scripted error."""
        self.calls.append(("send_message", (to, from_, body, list(media))))
        if self.sms_error is not None:
            raise self.sms_error
        self._sms_count += 1
        return f"SM{self._sms_count:032d}"

    def load_flow(self, flow_id: str) -> dict[str, Any] | None:
        """The scripted flow, or None."""
        self.calls.append(("load_flow", (flow_id,)))
        return self.flows.get(flow_id)

    def online_clients(self, users: list[str]) -> list[str]:
        """Client identities of the scripted online users, in the order asked."""
        self.calls.append(("online_clients", (list(users),)))
        return [self.online[u] for u in users if u in self.online]

    def number_users(self) -> list[str]:
        """The scripted users of the called number."""
        self.calls.append(("number_users", ()))
        return list(self.assigned)

    def twilio_signature(self, url: str, params: Mapping[str, str]) -> str:
        """The signature Twilio computes with `auth_token`."""
        self.calls.append(("twilio_signature", (url, dict(params))))
        return RequestValidator(self.auth_token).compute_signature(url, dict(params))
