"""The designer's test console: a simulated call through a flow's draft, with no phone and no Twilio.

The engine runs turn by turn (`flows.run_turn`) with a simulated clock and simulated services
(HTTP, SMS and softphones answer as the tester chooses; nothing leaves the server). A caller
action becomes the event Twilio would post. The whole run (engine state, inputs, path and
transcript) is a plain dict the web layer signs and hands to the browser, so no call state is
kept on the server; a finished run can be saved as a `FlowTestCase` and replayed later.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flows import Event, TurnContext, load_definition, run_turn
from flows.nodes.hours import holiday_dates, is_open
from flows.state import end_of, expects, waiting_node
from flows.webhooks import webhook_path
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
DIAL_STATUSES = ("completed", "busy", "no-answer", "failed")
# The run travels whole with every action, so a call is capped (the engine's own guards allow
# up to max_node_visits=1000 entries per node, which would grow the blob without a useful end).
MAX_ACTIONS = 200
QUEUE_RESULTS = ("bridged", "hangup", "leave", "error")


class ConsoleError(ValueError):
    """A caller action that does not fit what the call waits for, or bad options."""


class ConsoleServices:
    """`flows.Services` for the console: HTTP and SMS are simulated, subflows come from the org."""

    def __init__(self, options: Mapping[str, Any], load_flow=None) -> None:
        self.options = options
        self._load_flow = load_flow
        self.log: list[str] = []

    def http_request(self, method: str, url: str, headers, body, timeout: float) -> tuple[int, str]:
        """Answer as the tester chose: 200 with `{}` (or their body), or a connection failure."""
        self.log.append(f"HTTP {method} {url.split('?')[0]} (simulated)")
        if self.options.get("http") == "fail":
            raise ConnectionError("simulated failure")
        return 200, str(self.options.get("http_body") or "{}")

    def send_message(self, to: str, from_: str, body: str, media: list[str]) -> str:
        """Pretend to send; the transcript shows the message."""
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


def clean_options(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Console options from a form: caller number, clock, HTTP and agent behaviour."""
    clock = raw.get("clock") or "now"
    if clock not in CLOCKS:
        raise ConsoleError(f"clock must be one of {', '.join(CLOCKS)}.")
    return {
        "from": (str(raw.get("from") or "").strip() or SIM_FROM)[:32],
        "to": (str(raw.get("to") or "").strip() or SIM_TO)[:32],
        "clock": clock,
        "at": str(raw.get("at") or "")[:40],
        "http": "fail" if raw.get("http") == "fail" else "ok",
        "agents": "online" if raw.get("agents") == "online" else "offline",
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


def _turn(run: dict, definition: dict, event: Event, load_flow) -> dict:
    now = datetime.fromisoformat(run["now"]) + timedelta(seconds=5 * run["turns"])
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

    result = run_turn(
        definition, run["state"], event, TurnContext(call=call, now=now, url_for=url_for, services=services)
    )
    run["turns"] += 1
    run["state"] = result.state
    for step in result.steps:
        if step.node_id:
            run["path"].append({"node": step.node_id, "outcome": step.outcome})
        if step.detail.get("fallback"):
            run["transcript"].append({"who": "system", "text": f"Fallback: {step.detail['fallback']}"})
    run["transcript"].extend({"who": "system", "text": line} for line in services.log)
    run["transcript"].extend(
        {"who": "flow", "kind": kind, "text": text} for kind, text in heard_from_twiml(result.twiml)
    )
    waiting_at = waiting_node(result.state) if not result.done else None
    run["expects"] = expects(result.state) if waiting_at else []
    run["active"] = waiting_at or (run["path"][-1]["node"] if run["path"] else None)
    run["done"] = bool(result.done)
    if result.done:
        end = end_of(result.state)
        run["transcript"].append({"who": "system", "text": f"Call ended ({end.get('reason', 'completed')})."})
    return run


def start(definition: dict, options: Mapping[str, Any], load_flow=None, now: datetime | None = None) -> dict:
    """Begin a simulated call: the run dict after the first turn."""
    load_definition(definition)
    opts = clean_options(options)
    at = resolve_now(definition, opts, now)
    run = {
        "v": 1,
        "options": opts,
        "now": at.isoformat(),
        "turns": 0,
        "state": None,
        "inputs": [],
        "path": [],
        "transcript": [{"who": "system", "text": f"Call from {opts['from']} at {at:%a %d %b %H:%M} UTC."}],
        "expects": [],
        "active": None,
        "done": False,
        "call_sid": "CA" + "5" * 32,
    }
    return _turn(run, definition, Event("start", {}), load_flow)


def act(run: dict, definition: dict, action: Mapping[str, Any], load_flow=None) -> dict:
    """Apply one caller action to a run (a new dict is returned; ConsoleError when it does not fit)."""
    if run.get("done"):
        raise ConsoleError("The call has ended; start a new one.")
    if len(run.get("inputs") or []) >= MAX_ACTIONS:
        raise ConsoleError(f"A simulated call takes at most {MAX_ACTIONS} caller actions; start a new one.")
    clean = {
        k: v for k, v in action.items() if k in ("kind", "digits", "text", "seconds", "success", "status", "result")
    }
    event = event_for(clean, run.get("expects") or [])
    run = {**run, "inputs": [*run["inputs"], clean], "path": list(run["path"]), "transcript": list(run["transcript"])}
    run["transcript"].append({"who": "caller", "text": describe_action(clean)})
    if event is None:
        run.update(done=True, expects=[])
        run["transcript"].append({"who": "system", "text": "Call ended (caller hung up)."})
        return run
    return _turn(run, definition, event, load_flow)


def replay(definition: dict, inputs: list[dict], options: Mapping[str, Any], load_flow=None) -> dict:
    """Run a saved test case's inputs against a definition; stops early when an input no longer fits."""
    run = start(definition, options, load_flow)
    for action in inputs:
        if run["done"]:
            run.setdefault("unused", []).append(action)
            continue
        try:
            run = act(run, definition, action, load_flow)
        except ConsoleError as err:
            run["error"] = str(err)
            break
    return run


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
