"""The designer's test console: a simulated call through a flow's draft, with no phone and no Twilio.

The engine runs turn by turn (`flows.run_turn`) with a simulated clock and simulated services
(HTTP, SMS and softphones answer as the tester chooses; nothing leaves the server). A caller
action becomes the event Twilio would post. The whole run (engine state, inputs, path and
transcript) is a plain dict the web layer signs and hands to the browser, so no call state is
kept on the server; a finished run can be saved as a `FlowTestCase` and replayed later.

A flow that serves text conversations runs in **messaging mode**: the tester texts as the
contact, each text is the event the sms webhook would bring, and every turn goes through
`services.messaging.message_turn`, the one engine turn of the real conversations. What the flow
sends to the contact shows as its replies; "skip the wait" fires the pending reply timeout (or,
with no timeout pending, the inactivity expiry). A saved messaging case keeps, with each text,
the replies it brought, and a re-run checks them as well as the path.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flows import Event, TurnContext, TurnResult, load_definition, run_turn
from flows.definition import CHANNELS, DEFAULT_INACTIVITY_SECONDS
from flows.formats import url_valid
from flows.nodes.hours import holiday_dates, is_open
from flows.state import end_of, end_reason_words, end_session, expects, waiting_node, waiting_until
from flows.webhooks import webhook_path
from services import messaging
from services.console_speech import heard_from_twiml

SIM_FROM = "+15551230000"
SIM_TO = "+15559870000"
CLOCKS = ("now", "open", "closed", "custom")
WAIT_KINDS = {
    "input": "gather",
    "recording": "record",
    "payment": "pay",
    "dial": "dial",
    "queue": "queue",
    "continue": "connect",
}
INPUT_KINDS = ("press", "say", "silence", "record", "pay", "dial", "queue", "continue", "hangup")
# What a contact does in a text conversation: text (a body and/or a media URL), or let time pass.
MESSAGE_KINDS = ("text", "skip")
ACTION_KEYS = ("kind", "digits", "text", "media", "seconds", "success", "status", "result")
DIAL_STATUSES = ("completed", "busy", "no-answer", "failed")
# The run travels whole with every action, so a call is capped (the engine's own guards allow
# up to max_node_visits=1000 entries per node, which would grow the blob without a useful end).
MAX_ACTIONS = 200
QUEUE_RESULTS = ("bridged", "hangup", "leave", "error")


class ConsoleError(ValueError):
    """A caller action that does not fit what the call waits for, or bad options."""


class SimulatedRefusal(RuntimeError):
    """The provider's refusal when the tester chose "texts are refused": 21610, the contact replied STOP."""

    code = 21610


class ConsoleServices:
    """`flows.Services` for the console: HTTP and SMS are simulated, subflows come from the org."""

    def __init__(self, options: Mapping[str, Any], load_flow=None) -> None:
        self.options = options
        self._load_flow = load_flow
        self.log: list[str] = []
        self.sent: list[dict[str, Any]] = []  # messages to the contact of a text conversation

    def http_request(self, method: str, url: str, headers, body, timeout: float) -> tuple[int, str]:
        """Answer as the tester chose: 200 with `{}` (or their body), or a connection failure."""
        self.log.append(f"HTTP {method} {url.split('?')[0]} (simulated)")
        if self.options.get("http") == "fail":
            raise ConnectionError("simulated failure")
        return 200, str(self.options.get("http_body") or "{}")

    def twilio_signature(self, url: str, params: Mapping[str, str]) -> str:
        """No Twilio account signs in the console: a placeholder signature."""
        return "simulated"

    def send_message(self, to: str, from_: str, body: str, media: list[str]) -> str:
        """Pretend to send; the transcript shows the message (a reply bubble in a conversation)."""
        if self.options.get("sms") == "stop":
            self.log.append(f"Text to {to} refused: the contact replied STOP (21610, simulated)")
            raise SimulatedRefusal("21610: the contact replied STOP (simulated)")
        if self.options.get("channel") == "messaging" and to == self.options.get("from"):
            self.sent.append({"text": body, "media": list(media)})
        else:
            extra = f" [{', '.join(media)}]" if media else ""
            self.log.append(f"SMS to {to}: {body}{extra} (not sent)")
        return "SMsimulated00000000000000000000000"

    def load_flow(self, flow_id: str) -> dict[str, Any] | None:
        """Another flow's published definition, from the org."""
        return self._load_flow(flow_id) if self._load_flow else None

    def online_clients(self, users: list[str]) -> list[str]:
        """Everyone is online when the tester says agents answer, else nobody."""
        return [f"client:{u}" for u in users] if self.options.get("agents") == "online" else []

    def number_users(self) -> list[str]:
        """The called number's users: one simulated agent (online when the tester says agents answer)."""
        return ["agent"]


def _hours_nodes(definition: dict) -> list[tuple[str, dict, set[str]]]:
    settings_tz = (definition.get("settings") or {}).get("timezone") or "UTC"
    found = []
    for node in definition.get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == "business_hours":
            props = node.get("props") or {}
            tz = props.get("timezone") or settings_tz
            found.append((tz, props.get("hours") or {}, holiday_dates(props.get("holidays"))))
    return found


def find_time(definition: dict, want_open: bool, base: datetime) -> datetime:
    """The first quarter hour from `base` at which every business-hours node is open (or closed)."""
    nodes = _hours_nodes(definition)
    start = base.replace(second=0, microsecond=0) - timedelta(minutes=base.minute % 15)
    if not nodes:
        return start
    for relax in (False, True):
        checked = nodes[:1] if relax else nodes
        for step in range(8 * 96):
            moment = start + timedelta(minutes=15 * step)
            try:
                states = [is_open(hours, hol, moment.astimezone(zoneinfo.ZoneInfo(tz))) for tz, hours, hol in checked]
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, AttributeError):
                return start
            if all(s == want_open for s in states):
                return moment
    return start


def clock_zone(definition: dict) -> str:
    """The zone a picked console time is in: the flow's, else its first business-hours node's, else UTC."""
    explicit = (definition.get("settings") or {}).get("timezone")
    if explicit:
        return explicit
    for node in definition.get("nodes") or []:
        if (
            isinstance(node, dict)
            and node.get("type") == "business_hours"
            and (node.get("props") or {}).get("timezone")
        ):
            return node["props"]["timezone"]
    return "UTC"


def resolve_now(definition: dict, options: Mapping[str, Any], now: datetime | None = None) -> datetime:
    """The simulated call's clock from the console options."""
    now = now or datetime.now(UTC)
    clock = options.get("clock") or "now"
    if clock in ("open", "closed"):
        return find_time(definition, clock == "open", now)
    if clock == "custom":
        try:
            at = datetime.fromisoformat(str(options.get("at") or ""))
        except ValueError:
            raise ConsoleError("Pick a date and time for the simulated clock.") from None
        if at.tzinfo is None:
            try:
                at = at.replace(tzinfo=zoneinfo.ZoneInfo(clock_zone(definition)))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                at = at.replace(tzinfo=UTC)
        return at.astimezone(UTC)
    return now


def flow_channels(definition: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The channels a draft serves (``voice`` when it does not say, or says nothing valid)."""
    raw = ((definition or {}).get("settings") or {}).get("channels")
    found = tuple(c for c in CHANNELS if isinstance(raw, list) and c in raw)
    return found or ("voice",)


def clean_options(raw: Mapping[str, Any], channels: tuple[str, ...] = ("voice",)) -> dict[str, Any]:
    """Console options from a form: channel, caller number, clock, HTTP, agent and sending behaviour."""
    clock = raw.get("clock") or "now"
    if clock not in CLOCKS:
        raise ConsoleError(f"clock must be one of {', '.join(CLOCKS)}.")
    channel = raw.get("channel") or channels[0]
    if channel not in channels:
        served = " and ".join({"voice": "calls", "messaging": "text conversations"}[c] for c in channels)
        raise ConsoleError(f"This flow serves {served} only.")
    return {
        "channel": channel,
        "from": (str(raw.get("from") or "").strip() or SIM_FROM)[:32],
        "to": (str(raw.get("to") or "").strip() or SIM_TO)[:32],
        "clock": clock,
        "at": str(raw.get("at") or "")[:40],
        "http": "fail" if raw.get("http") == "fail" else "ok",
        "agents": "online" if raw.get("agents") == "online" else "offline",
        "sms": "stop" if raw.get("sms") == "stop" else "ok",
    }


def event_for(action: Mapping[str, Any], expects: list[str]) -> Event | None:
    """The webhook event Twilio would post for a caller action (None: the caller hung up)."""
    kind = action.get("kind")
    if kind not in INPUT_KINDS:
        raise ConsoleError(f"Unknown caller action {kind!r}.")
    if kind == "hangup":
        return None
    wanted = {
        "press": "input",
        "say": "input",
        "silence": "timeout",
        "record": "recording",
        "pay": "payment",
        "dial": "dial",
        "queue": "queue",
        "continue": "continue",
    }[kind]
    if wanted not in expects:
        raise ConsoleError(f"The call is not waiting for that (it expects {', '.join(expects) or 'nothing'}).")
    if kind == "press":
        digits = str(action.get("digits") or "")
        if not digits or not set(digits) <= set("0123456789*#"):
            raise ConsoleError("Press keys 0-9, * or #.")
        return Event("input", {"Digits": digits})
    if kind == "say":
        text = str(action.get("text") or "").strip()
        if not text:
            raise ConsoleError("Type what the caller says.")
        return Event("input", {"SpeechResult": text[:500], "Confidence": "0.92"})
    if kind == "silence":
        return Event("timeout", {})
    if kind == "record":
        seconds = max(0, min(int(action.get("seconds") or 0), 3600))
        params = {"RecordingDuration": str(seconds), "Digits": "#"}
        if seconds:
            params.update(RecordingUrl="https://api.twilio.com/simulated/recording", RecordingSid="RE" + "0" * 32)
        return Event("recording", params)
    if kind == "pay":
        if action.get("success"):
            return Event(
                "payment",
                {
                    "Result": "success",
                    "PaymentConfirmationCode": "ch_simulated",
                    "PaymentCardType": "visa",
                    "PaymentCardNumber": "xxxxxxxxxxxx1111",
                },
            )
        return Event("payment", {"Result": "payment-connector-error", "PaymentError": "Card declined (simulated)"})
    if kind == "dial":
        status = action.get("status") if action.get("status") in DIAL_STATUSES else "completed"
        return Event("dial", {"DialCallStatus": status, "DialCallDuration": "42" if status == "completed" else "0"})
    if kind == "queue":
        result = action.get("result") if action.get("result") in QUEUE_RESULTS else "bridged"
        return Event("queue", {"QueueResult": result, "QueueTime": "30"})
    return Event("continue", {"CallStatus": "in-progress"})


def describe_action(action: Mapping[str, Any]) -> str:
    """What the caller did, for the transcript."""
    kind = action.get("kind")
    return {
        "press": f"presses {action.get('digits')}",
        "say": f"says “{action.get('text')}”",
        "silence": "stays silent",
        "record": f"speaks for {action.get('seconds')} s" if action.get("seconds") else "records nothing",
        "pay": "pays (success)" if action.get("success") else "payment fails",
        "dial": f"dial result: {action.get('status')}",
        "queue": f"queue result: {action.get('result')}",
        "continue": "the AI agent hands back",
        "hangup": "hangs up",
    }.get(str(kind), str(kind))


def _clock(run: dict) -> datetime:
    """The run's simulated time: 5 s per turn, plus the waits the tester skipped."""
    return datetime.fromisoformat(run["now"]) + timedelta(seconds=5 * run["turns"] + run.get("skipped", 0))


def _context(run: dict, load_flow) -> tuple[ConsoleServices, TurnContext]:
    services = ConsoleServices(run["options"], load_flow)
    call = {
        "CallSid": run["call_sid"],
        "From": run["options"]["from"],
        "To": run["options"]["to"],
        "Direction": "inbound",
        "CallStatus": "in-progress",
        "AccountSid": "ACsimulator",
    }

    def url_for(service_id: str, **params: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"https://console.phonetree.invalid{webhook_path(service_id)}?{query}"

    return services, TurnContext(call=call, now=_clock(run), url_for=url_for, services=services)


def _turn(run: dict, definition: dict, event: Event, load_flow, params: Mapping[str, Any] | None = None) -> dict:
    """One engine turn: a call's `run_turn`, or a conversation's `messaging.message_turn` (the webhook's)."""
    services, ctx = _context(run, load_flow)
    texting = run["options"].get("channel") == "messaging"
    if texting:
        result = messaging.message_turn(definition, run["state"], event, ctx, params or {})
    else:
        result = run_turn(definition, run["state"], event, ctx)
    return _record(run, result, services, texting)


def _record(run: dict, result: TurnResult, services: ConsoleServices, texting: bool) -> dict:
    at = _clock(run)
    run["turns"] += 1
    run["state"] = result.state
    for step in result.steps:
        if step.node_id:
            run["path"].append({"node": step.node_id, "outcome": step.outcome})
        if step.detail.get("fallback"):
            run["transcript"].append({"who": "system", "text": f"Fallback: {step.detail['fallback']}"})
    run["transcript"].extend({"who": "system", "text": line} for line in services.log)
    if texting:
        run["transcript"].extend({"who": "flow", "kind": "message", **sent} for sent in services.sent)
        run["inputs"][-1] = {**run["inputs"][-1], "replies": services.sent}  # a text turn follows an input
    else:
        run["transcript"].extend(
            {"who": "flow", "kind": kind, "text": text} for kind, text in heard_from_twiml(result.twiml)
        )
    waiting_at = waiting_node(result.state) if not result.done else None
    run["expects"] = expects(result.state) if waiting_at else []
    run["active"] = waiting_at or (run["path"][-1]["node"] if run["path"] else None)
    run["done"] = bool(result.done)
    if result.done:
        end = end_of(result.state)
        what, channel = ("Conversation", "messaging") if texting else ("Call", "voice")
        words = end_reason_words(end.get("reason") or "completed", channel)
        run["transcript"].append({"who": "system", "text": f"{what} ended ({words})."})
    elif texting and waiting_until(result.state):
        wait = datetime.fromisoformat(str(waiting_until(result.state))) - at
        run["transcript"].append({"who": "system", "text": f"Waits up to {_duration(wait)} for a reply."})
        run["wait_from"] = at.isoformat()
    return run


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def start(definition: dict, options: Mapping[str, Any], load_flow=None, now: datetime | None = None) -> dict:
    """Begin a simulated call (the run dict after the first turn) or an empty text conversation."""
    load_definition(definition)
    opts = clean_options(options, flow_channels(definition))
    at = resolve_now(definition, opts, now)
    texting = opts["channel"] == "messaging"
    run = {
        "v": 1,
        "options": opts,
        "now": at.isoformat(),
        "turns": 0,
        "state": None,
        "inputs": [],
        "path": [],
        "transcript": [
            {
                "who": "system",
                "text": f"{'Texts' if texting else 'Call'} from {opts['from']} at {at:%a %d %b %H:%M} UTC."
                + (" Send the first message to start the conversation." if texting else ""),
            }
        ],
        "expects": ["input"] if texting else [],
        "active": None,
        "done": False,
        "call_sid": ("SM" if texting else "CA") + "5" * 32,
    }
    if texting:
        return run  # the contact's first text starts the session, as on the sms webhook
    return _turn(run, definition, Event("start", {}), load_flow)


def message_params(run: dict, action: Mapping[str, Any]) -> dict[str, str]:
    """The fields the sms webhook would bring for the contact's text (as the webhook cleans them)."""
    body = str(action.get("text") or "").strip()[:1600]
    media = str(action.get("media") or "").strip()
    if media and not url_valid(media):
        raise ConsoleError("A media URL must be an http(s) URL.")
    if not body and not media:
        raise ConsoleError("Type a message (or give a media URL).")
    sid = f"SM{run['turns'] + 1:032d}"
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "ACsimulator",
        "From": run["options"]["from"],
        "To": run["options"]["to"],
        "Body": body,
        "NumMedia": "1" if media else "0",
    }
    if media:
        form["MediaUrl0"] = media
    return messaging.message_params(form)


def _text_act(run: dict, definition: dict, action: Mapping[str, Any], load_flow) -> dict:
    kind = action.get("kind")
    if kind not in MESSAGE_KINDS:
        raise ConsoleError(f"Unknown action {kind!r} in a text conversation: text or skip the wait.")
    started = run["state"] is not None
    if kind == "text":
        params = message_params(run, action)
        run = _grown(run, action)
        media = [params["MediaUrl0"]] if params.get("MediaUrl0") else []
        run["transcript"].append({"who": "contact", "text": params["Body"], "media": media})
        return _turn(run, definition, Event("input" if started else "start", params), load_flow, params)
    if not started:
        raise ConsoleError("Nothing waits yet: send the first message.")
    run = _grown(run, action)
    until = waiting_until(run["state"])
    if until:
        due = datetime.fromisoformat(until)
        run["skipped"] = run.get("skipped", 0) + max(0, int((due - _clock(run)).total_seconds()))
        waited = due - datetime.fromisoformat(run.get("wait_from") or run["now"])
        run["transcript"].append({"who": "system", "text": f"Skipped the wait: {_duration(waited)} pass, no reply."})
        return _turn(run, definition, Event("timeout", {}), load_flow)
    settings = (definition.get("settings") or {}) if isinstance(definition, dict) else {}
    limit = int(settings.get("inactivity_timeout") or DEFAULT_INACTIVITY_SECONDS)
    run["skipped"] = run.get("skipped", 0) + limit
    run["inputs"][-1] = {**run["inputs"][-1], "replies": []}
    run.update(done=True, expects=[], state=end_session(run["state"], "expired", turn=run["turns"]))
    run["transcript"].append(
        {"who": "system", "text": f"Skipped the wait: no message for {_duration(timedelta(seconds=limit))}."}
    )
    run["transcript"].append({"who": "system", "text": "Conversation ended (expired)."})
    return run


def _grown(run: dict, action: Mapping[str, Any]) -> dict:
    """A copy of the run with the action added to its inputs (the run itself is not changed)."""
    return {
        **run,
        "inputs": [*run["inputs"], dict(action)],
        "path": list(run["path"]),
        "transcript": list(run["transcript"]),
    }


def act(run: dict, definition: dict, action: Mapping[str, Any], load_flow=None) -> dict:
    """Apply one caller (or texting contact) action to a run (a new dict is returned; ConsoleError
    when it does not fit)."""
    if run.get("done"):
        raise ConsoleError(
            "The conversation has ended; start a new one."
            if run["options"].get("channel") == "messaging"
            else "The call has ended; start a new one."
        )
    if len(run.get("inputs") or []) >= MAX_ACTIONS:
        raise ConsoleError(f"A simulated call takes at most {MAX_ACTIONS} caller actions; start a new one.")
    clean = {k: v for k, v in action.items() if k in ACTION_KEYS}
    if run["options"].get("channel") == "messaging":
        return _text_act(run, definition, clean, load_flow)
    event = event_for(clean, run.get("expects") or [])
    run = _grown(run, clean)
    run["transcript"].append({"who": "caller", "text": describe_action(clean)})
    if event is None:
        run.update(done=True, expects=[])
        run["transcript"].append({"who": "system", "text": "Call ended (caller hung up)."})
        return run
    return _turn(run, definition, event, load_flow)


def replay(definition: dict, inputs: list[dict], options: Mapping[str, Any], load_flow=None) -> dict:
    """Run a saved test case's inputs against a definition; stops early when an input no longer fits.

    An input of a text conversation that recorded its ``replies`` must bring the same ones: the
    first that differ is ``replies_differ``.
    """
    run = start(definition, {"channel": "voice", **options}, load_flow)
    for action in inputs:
        if run["done"]:
            run.setdefault("unused", []).append(action)
            continue
        try:
            run = act(run, definition, action, load_flow)
        except ConsoleError as err:
            run["error"] = str(err)
            break
        if "replies" in action and "replies_differ" not in run:
            problem = compare_replies(action, run["inputs"][-1].get("replies") or [])
            if problem:
                run["replies_differ"] = problem
    return run


def _said(replies: list[dict]) -> str:
    if not replies:
        return "nothing"
    return " / ".join(
        "“" + str(r.get("text") or "") + "”" + (f" [{', '.join(r.get('media') or [])}]" if r.get("media") else "")
        for r in replies
    )


def compare_replies(action: Mapping[str, Any], got: list[dict]) -> str | None:
    """None when a text brought the replies the case recorded, else the difference in words."""
    want = [{"text": r.get("text"), "media": list(r.get("media") or [])} for r in action.get("replies") or []]
    have = [{"text": r.get("text"), "media": list(r.get("media") or [])} for r in got]
    if want == have:
        return None
    after = f"After “{action.get('text')}”" if action.get("kind") == "text" else "After skipping the wait"
    return f"{after}: expected the flow to send {_said(want)}, it sent {_said(have)}."


def compare_paths(expected: list[dict], actual: list[dict]) -> str | None:
    """None when the paths match, else where they first differ, in words."""
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if (want.get("node"), want.get("outcome")) != (got.get("node"), got.get("outcome")):
            return (
                f"Step {index + 1}: expected {want.get('node')} → {want.get('outcome') or 'wait/end'}, "
                f"got {got.get('node')} → {got.get('outcome') or 'wait/end'}."
            )
    if len(expected) != len(actual):
        return f"Expected {len(expected)} steps, the call took {len(actual)}."
    return None


def saved_options(run: dict) -> dict[str, Any]:
    """The options to store with a test case: a real-clock run keeps the time it ran at."""
    options = dict(run["options"])
    if options["clock"] == "now":
        options.update(clock="custom", at=run["now"])
    return options
