"""The caller simulator: plays Twilio's side of one inbound call.

`CallerSimulator.start(url)` posts the incoming-call webhook and follows the TwiML
until the call waits for the caller (a Gather, Record, Pay, Dial or Enqueue) or ends;
`act(action)` answers that wait and follows on. `run(url, script)` does both for a
whole list of actions and returns the `CallTranscript`. Every request is signed as
Twilio signs it; the verb-by-verb behaviour lives in `sim.follow`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urljoin, urlsplit

from sim import actions as act
from sim import verbs as v
from sim.follow import VerbFollower
from sim.params import CallIdentity, new_sid, sign, status_callback_fields
from sim.transcript import CallEvent, CallTranscript, PromptState, RequestRecord
from sim.transport import Transport, TransportError
from sim.twiml import TwimlError, parse_twiml

__all__ = ["CallerSimulator", "ScriptError", "SimulatorError"]

_TWIML_TYPES = ("text/xml", "application/xml", "text/html")
_WAITS: dict[type, str] = {
    v.Gather: "gather",
    v.Record: "record",
    v.Pay: "pay",
    v.Dial: "dial",
    v.Enqueue: "enqueue",
}
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "gather": (act.Press, act.Say, act.Silence, act.HangUp),
    "record": (act.RecordAudio, act.Silence, act.HangUp),
    "pay": (act.PayResult, act.Silence, act.HangUp),
    "dial": (act.DialResult, act.HangUp),
    "enqueue": (act.QueueResult, act.HangUp),
}


class SimulatorError(Exception):
    """The simulator was driven wrongly (act before start, or after the call ended)."""


class ScriptError(SimulatorError):
    """A scripted action does not fit what the call waits for."""


class CallEndedError(Exception):
    """Raised inside the simulator to unwind once the call has ended."""


class CallerSimulator(VerbFollower):
    """Simulates Twilio and a caller for one inbound call.

    `public_base_url`, when given, is the origin Twilio believes it calls: signatures
    cover `{public_base_url}{path}?{query}` and TwiML URLs on that origin are sent to
    the origin of the service URL. `status_callback_url` receives the final call
    status. `max_requests` caps the TwiML requests of one call (the loop guard).
    `now` fixes the call's start time; the simulated clock never sleeps.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        account_sid: str,
        auth_token: str,
        from_: str,
        to: str,
        call_sid: str | None = None,
        public_base_url: str | None = None,
        status_callback_url: str | None = None,
        status_callback_method: str = "POST",
        max_requests: int = 100,
        now: datetime | None = None,
        from_geo: dict[str, str] | None = None,
        to_geo: dict[str, str] | None = None,
        extra_params: dict[str, str] | None = None,
    ) -> None:
        self.transport = transport
        self.auth_token = auth_token
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.status_callback_url = status_callback_url
        self.status_callback_method = status_callback_method.upper()
        self.max_requests = max_requests
        self.started_at = now or datetime.now(UTC)
        self.identity = CallIdentity(
            account_sid=account_sid,
            call_sid=call_sid or new_sid("CA"),
            from_=from_,
            to=to,
            from_geo=dict(from_geo or {}),
            to_geo=dict(to_geo or {}),
            extra=dict(extra_params or {}),
        )
        self.transcript = CallTranscript(call_sid=self.identity.call_sid)
        self.elapsed = 0.0
        self.waiting: v.Verb | None = None
        self.queue_sid: str | None = None
        self.pay_sid = ""
        self._verbs: list[v.Verb] = []
        self._pos = 0
        self._doc_url = ""
        self._origin = ""
        self._voice_requests = 0
        self._shown = 0
        self._started = False
        self._script_exhausted = False

    # -- driving the call -------------------------------------------------------

    @property
    def call_sid(self) -> str:
        """The CallSid of this call."""
        return self.identity.call_sid

    @property
    def ended(self) -> bool:
        """True once the call is over."""
        return self.transcript.ended

    def start(self, service_url: str, method: str = "POST") -> PromptState:
        """Post the incoming-call webhook to `service_url` and follow the TwiML."""
        if self._started:
            raise SimulatorError("this call has already started; use a new CallerSimulator")
        parts = urlsplit(service_url)
        if not parts.scheme or not parts.netloc:
            raise SimulatorError(f"service_url must be absolute, got {service_url!r}")
        self._started = True
        self._origin = f"{parts.scheme}://{parts.netloc}"
        try:
            self.load("incoming call", service_url, self.identity.fields("ringing"), method)
        except CallEndedError:
            return self._prompt()
        return self._advance()

    def act(self, action: act.Action) -> PromptState:
        """Answer what the call waits for with one caller action and follow on."""
        if not self._started:
            raise SimulatorError("start() the call before acting")
        if self.ended or self.waiting is None:
            raise SimulatorError(f"the call has ended ({self.transcript.end_reason})")
        kind = _WAITS[type(self.waiting)]
        if not isinstance(action, _ACCEPTS[kind]):
            names = ", ".join(cls.__name__ for cls in _ACCEPTS[kind])
            raise ScriptError(f"the call waits at <{type(self.waiting).__name__}> for one of {names}; got {action!r}")
        verb, self.waiting = self.waiting, None
        try:
            if isinstance(action, act.HangUp):
                self.caller_hangs_up(verb)
            else:
                self.resolve(verb, action)
        except CallEndedError:
            return self._prompt()
        return self._advance()

    def run(self, service_url: str, script: Iterable[act.Action]) -> CallTranscript:
        """Play a whole call: start, then one action per wait until the call ends.

        When the script runs out while the call still waits, the caller hangs up
        (end reason "script_exhausted"); actions left over when the call ends are
        kept in `transcript.unused_actions`.
        """
        state = self.start(service_url)
        pending = list(script)
        while not state.ended:
            if not pending:
                self._script_exhausted = True
                state = self.act(act.HangUp())
                break
            state = self.act(pending.pop(0))
        self.transcript.unused_actions = pending
        return self.transcript

    # -- following the document -------------------------------------------------

    def _advance(self) -> PromptState:
        try:
            while True:
                if self._pos >= len(self._verbs):
                    self.finish("end_of_twiml")
                verb = self._verbs[self._pos]
                self._pos += 1
                if self.execute(verb):
                    self.waiting = verb
                    return self._prompt()
        except CallEndedError:
            return self._prompt()

    def _prompt(self) -> PromptState:
        events = self.transcript.events[self._shown :]
        self._shown = len(self.transcript.events)
        heard = [e.text for e in events if e.kind == "heard"]
        if self.ended or self.waiting is None:
            return PromptState("ended", heard, events, end_reason=self.transcript.end_reason)
        kind = _WAITS[type(self.waiting)]
        accepts = [cls.__name__ for cls in _ACCEPTS[kind]]
        if isinstance(self.waiting, v.Gather):
            accepts = [
                name
                for name in accepts
                if (name != "Press" or self.waiting.accepts("dtmf"))
                and (name != "Say" or self.waiting.accepts("speech"))
            ]
        return PromptState(kind, heard, events, verb=self.waiting, accepts=tuple(accepts))

    def event(self, kind: str, text: str = "", **data: object) -> None:
        """Append one event to the transcript."""
        self.transcript.events.append(CallEvent(kind, text, dict(data)))

    def tick(self, seconds: float) -> None:
        """Advance the simulated clock."""
        self.elapsed += max(seconds, 0)

    @property
    def now(self) -> datetime:
        """The simulated wall-clock time."""
        return self.started_at + timedelta(seconds=self.elapsed)

    def resolve_url(self, url: str | None) -> str:
        """An absolute URL for a TwiML URL; none means the current document, as Twilio does."""
        return urljoin(self._doc_url or self._origin + "/", url) if url else self._doc_url

    def call_fields(self, status: str = "in-progress") -> dict[str, str]:
        """The standard call fields for a request now."""
        return self.identity.fields(status)

    # -- requests -----------------------------------------------------------------

    def _locate(self, url: str) -> tuple[str, str]:
        """(URL to request, URL Twilio signs) for an absolute URL.

        With a public base URL, URLs on it are sent to the service's origin and URLs on
        the service's origin are signed as public ones; other hosts stay as they are.
        """
        public = self.public_base_url
        if not public:
            return url, url
        if url.startswith(public) and url[len(public) : len(public) + 1] in ("", "/", "?"):
            local = self._origin + url[len(public) :]
        elif urlsplit(url).netloc == urlsplit(self._origin).netloc:
            local = url
        else:
            return url, url
        parts = urlsplit(local)
        signed = self.public_base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return local, signed

    def request(
        self,
        kind: str,
        label: str,
        url: str,
        params: dict[str, str],
        method: str = "POST",
    ) -> RequestRecord:
        """Make one signed request; never raises for HTTP or transport failures."""
        local, signed = self._locate(url)
        document_url = signed
        method = method.upper()
        if method == "GET":
            query = urlencode(params)
            local += ("&" if urlsplit(local).query else "?") + query
            signed += ("&" if urlsplit(signed).query else "?") + query
            signature = sign(self.auth_token, signed, {})
        else:
            signature = sign(self.auth_token, signed, params)
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        record = RequestRecord(kind, label, method, local, signed, dict(params), headers)
        record.document_url = document_url
        try:
            if method == "GET":
                answer = self.transport.get(local, headers)
            else:
                answer = self.transport.post(local, params, headers)
        except TransportError as err:
            record.error = str(err)
        else:
            record.status, record.content_type, record.body = answer
        self.transcript.requests.append(record)
        self.event(
            "request",
            f"{method} {local} -> {record.status if record.status is not None else record.error}",
            label=label,
            index=len(self.transcript.requests) - 1,
        )
        return record

    def fetch(self, label: str, url: str, params: dict[str, str], method: str = "POST") -> RequestRecord:
        """Request TwiML; `record.verbs` holds it, or `record.error` says what is wrong."""
        if self._voice_requests >= self.max_requests:
            self.event(
                "error",
                f"loop guard: the call made {self.max_requests} TwiML "
                f"requests without ending; next was {method} {url} ({label})",
            )
            self.finish("loop_guard")
        self._voice_requests += 1
        record = self.request("voice", label, url, params, method)
        record.error = record.error or _twiml_problem(record)
        if record.error is None:
            try:
                record.verbs = parse_twiml(record.body)
            except TwimlError as err:
                record.error = f"invalid TwiML: {err}"
        return record

    def adopt(self, record: RequestRecord) -> None:
        """Continue the call with the TwiML of `record`, or end it on an error."""
        if record.error is not None or record.verbs is None:
            self.event("error", f"{record.label}: {record.method} {record.url}: {record.error}")
            reason = (
                "transport_error"
                if record.status is None
                else ("http_error" if record.status != 200 else "invalid_twiml")
            )
            self.finish(reason)
        self._verbs = list(record.verbs)
        self._pos = 0
        self._doc_url = record.document_url

    def load(self, label: str, url: str, params: dict[str, str], method: str = "POST") -> None:
        """Fetch TwiML and continue the call with it."""
        self.adopt(self.fetch(label, url, params, method))

    def notify(self, label: str, url: str, params: dict[str, str], method: str = "POST") -> None:
        """A request whose answer does not steer the call (callbacks, actions after hangup)."""
        record = self.request("callback", label, url, params, method)
        if record.status is None or not 200 <= record.status < 300:
            self.event(
                "error",
                f"{label}: {record.method} {record.url}: {record.error or f'HTTP {record.status}'}",
            )

    def finish(self, reason: str, status: str = "completed") -> None:
        """End the call: record why, post the status callback, unwind with CallEndedError."""
        if not self.ended:
            if reason == "caller_hangup" and self._script_exhausted:
                reason = "script_exhausted"
            self.transcript.end_reason = reason
            self.transcript.duration = round(self.elapsed)
            self.waiting = None
            self.event("ended", reason, status=status)
            if self.status_callback_url:
                seconds = 0 if status in ("busy", "no-answer") else self.transcript.duration
                self.notify(
                    "status callback",
                    urljoin(self._origin + "/", self.status_callback_url),
                    status_callback_fields(self.identity, status, seconds, self.now),
                    self.status_callback_method,
                )
        raise CallEndedError


def _twiml_problem(record: RequestRecord) -> str | None:
    if record.status != 200:
        return (
            f"HTTP {record.status} instead of 200 with TwiML; Twilio would say "
            "'an application error has occurred' and hang up"
        )
    content_type = record.content_type.split(";")[0].strip().lower()
    if content_type not in _TWIML_TYPES:
        return f"Content-Type {record.content_type!r} is not TwiML (expected text/xml)"
    return None
