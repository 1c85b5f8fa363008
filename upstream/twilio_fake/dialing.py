"""Twilio's side of a call placed through the fake's Calls API: the signed webhooks it posts.

``POST Calls.json`` only records the call (``queued``), as Twilio answers at once and dials later.
A test (or a developer) then decides how the call goes, and `CallDialer` posts what Twilio would,
each signed with ``X-Twilio-Signature`` for the account's auth token, through a `Poster` (the Flask
test client in-process, or `http_post` to a running Phonetree):

- `answer`: the call connects. The voice webhook (``Url``) with ``CallStatus=in-progress``,
  ``Direction=outbound-api`` and, with synchronous machine detection, ``AnsweredBy``; with
  ``AsyncAmd`` the result goes to ``AsyncAmdStatusCallback`` afterwards. A ``<Redirect>`` in the
  answer is followed (the pause before it is not waited for), as Twilio's call would.
- `not_answered`: ``busy``, ``no-answer``, ``failed`` or ``canceled``: only the status callback.
- `hang_up`: the call ends (``completed``): the final status callback.
"""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from .state import FakeTwilioState

# (url, form, headers) -> (HTTP status, body)
Poster = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, str]]
MAX_REDIRECTS = 10
NOT_ANSWERED = ("busy", "no-answer", "failed", "canceled")


def http_post(url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, str]:
    """POST a form over HTTP (to a running Phonetree)."""
    data = urlencode(dict(form)).encode()
    request = urllib.request.Request(url, data=data, headers={**headers}, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  the URL the caller gave
        return response.status, response.read().decode()


@dataclass
class Posted:
    """One webhook the fake posted: where, what, and the answer."""

    url: str
    form: dict[str, str]
    status: int
    body: str


@dataclass
class CallDialer:
    """Posts the webhooks of calls created through the fake's REST API (see the module docstring)."""

    state: FakeTwilioState
    post: Poster = http_post
    posted: list[Posted] = field(default_factory=list)

    def _record(self, sid: str) -> dict[str, Any]:
        with self.state.lock:
            return dict(self.state.calls[sid])

    def _send(self, record: dict[str, Any], url: str, fields: Mapping[str, str]) -> Posted:
        form = {
            "AccountSid": record["account_sid"],
            "CallSid": record["sid"],
            "From": record["from"],
            "To": record["to"],
            "Direction": record["direction"],
            "ApiVersion": record["api_version"],
            **fields,
        }
        token = self.state.accounts[record["account_sid"]].auth_token
        signature = RequestValidator(token).compute_signature(url, form)
        status, body = self.post(url, form, {"X-Twilio-Signature": signature})
        sent = Posted(url, form, status, body)
        self.posted.append(sent)
        return sent

    def _status_callback(self, record: dict[str, Any], status: str, **fields: str) -> Posted | None:
        url = record.get("_StatusCallback")
        if not url:
            return None
        return self._send(record, url, {"CallStatus": status, **fields})

    def answer(self, sid: str, answered_by: str = "human", detection_ms: int = 2300) -> str:
        """The call connects; returns the TwiML it ends up following (after redirects)."""
        record = self.state.set_call_status(sid, "in-progress")
        record = self._record(sid)
        detecting = bool(record.get("_MachineDetection"))
        fields = {"CallStatus": "in-progress"}
        if detecting:
            self.state.apply_fields(self.state.calls[sid], {"answered_by": answered_by})
            if not record.get("_AsyncAmd"):
                fields.update(AnsweredBy=answered_by, MachineDetectionDuration=str(detection_ms))
        answer = self._send(record, record["_Url"], fields)
        if detecting and record.get("_AsyncAmd") and record.get("_AsyncAmdStatusCallback"):
            self._send(
                record,
                record["_AsyncAmdStatusCallback"],
                {"AnsweredBy": answered_by, "MachineDetectionDuration": str(detection_ms)},
            )
        twiml = answer.body
        for _ in range(MAX_REDIRECTS):
            target = redirect_of(twiml)
            if target is None:
                break
            twiml = self._send(record, target, {"CallStatus": "in-progress"}).body
        return twiml

    def not_answered(self, sid: str, status: str = "no-answer") -> Posted | None:
        """The call never connects: ``busy``, ``no-answer``, ``failed`` or ``canceled``."""
        if status not in NOT_ANSWERED:
            raise ValueError(f"status must be one of {', '.join(NOT_ANSWERED)}")
        self.state.set_call_status(sid, status)
        return self._status_callback(self._record(sid), status, CallDuration="0")

    def hang_up(self, sid: str, duration: int = 30) -> Posted | None:
        """The connected call ends: the final ``completed`` status callback."""
        self.state.set_call_status(sid, "completed", duration=str(duration))
        return self._status_callback(self._record(sid), "completed", CallDuration=str(duration))


def redirect_of(twiml: str) -> str | None:
    """The URL of a TwiML document's ``<Redirect>``, or None."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return None
    element = root.find("Redirect")
    return element.text.strip() if element is not None and element.text else None
