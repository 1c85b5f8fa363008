"""A call's session state: its type, and the one module that makes, reads and ends it.

The state is a JSON document stored with the call (`CallSession.state`) and handed back to
the engine on the next turn. Only `flows/` writes it: the interpreter as it runs a turn, and
`end_session` when a call ends for a reason outside a turn (the caller hung up, a status
callback, a fault). Everything else reads it through the functions here.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

STATE_VERSION = 1
Status = Literal["new", "waiting", "done"]

# Why a call ended (`state["end"]["reason"]`, and `CallSession.end_reason`). A call that ends on
# a Dial to softphones or a number also ends with Twilio's DialCallStatus (busy, no_answer ...).
END_REASONS: dict[str, str] = {
    "hangup": "a hangup node ended the call",
    "completed": "the flow ran out of nodes",
    "fallback": "the flow's fallback answered: a node failed, a guard tripped, or the flow is gone",
    "caller_hangup": "the caller hung up while the call waited (the final status callback)",
    "no_flow": "the number has no published flow: the org's fallback answered",
    "voicemail": "the caller left a voicemail",
    "no_message": "the voicemail recorded nothing",
    "answered": "a transfer was answered and has ended",
    "no_caller_id": "a softphone called out, but the org has no number to call from",
    "invalid_number": "a softphone called a number that is not a phone number",
    "expired": "a messaging session saw no message for the flow's inactivity limit",
    "opted_out": "the contact texted an opt-out keyword (STOP, UNSUBSCRIBE ...): Twilio sends them nothing more",
    "not_sent": "a text conversation could not go on: a text of a node with no failed outcome (a menu's prompt, "
    "a retry) was refused (21610: the contact replied STOP; 21211: not a valid number ...)",
    "simulation_ended": "`message simulate` ended the simulated conversation its script left waiting",
}
# (A built-in flow's call that ends with its Dial, Enqueue or AI stream ends ``answered``, or
# with Twilio's status: busy, no-answer, failed, canceled.)


def end_reason_words(reason: str | None, channel: str | None = "voice") -> str:
    """An end reason as pages show it: ``caller hangup``; a Hang up node closes a text conversation."""
    if not reason:
        return ""
    if channel == "messaging" and reason == "hangup":
        return "closed by the flow"
    return reason.replace("_", " ")


class Waiting(TypedDict, total=False):
    """The node a call waits at, the event kinds it accepts, and the turn that set it."""

    node: str
    expects: list[str]
    turn: int
    until: str  # messaging: when the runtime brings a ``timeout`` event (ISO time), if the node set one


class End(TypedDict, total=False):
    """How a call ended: a reason of `END_REASONS`, the node, the turn and a detail."""

    reason: str
    node: str | None
    turn: int | None
    detail: Any


class Frame(TypedDict):
    """A parent flow's place while a subflow runs."""

    flow: str | None
    node: str
    vars: dict[str, Any]
    results: dict[str, Any]
    attempts: dict[str, int]
    visits: dict[str, int]
    params: NotRequired[dict[str, Any]]  # what the subflow node passed (trigger.parent.parameters)


class CallState(TypedDict, total=False):
    """The engine's state of one call (docs/DESIGN.md, "State"): every call runs a flow, its
    number's or a built-in one (`flows.builtin`)."""

    v: int
    turn: int
    status: Status
    flow: str | None
    waiting: Waiting | None
    vars: dict[str, Any]
    results: dict[str, Any]
    attempts: dict[str, int]
    visits: dict[str, int]
    stack: list[Frame]
    end: End | None
    trigger: dict[str, Any]  # messaging: the fields of the message that began the session


def new_state() -> CallState:
    """A fresh call state (before the first turn)."""
    return {
        "v": STATE_VERSION,
        "turn": 0,
        "status": "new",
        "flow": None,
        "waiting": None,
        "vars": {},
        "results": {},
        "attempts": {},
        "visits": {},
        "stack": [],
        "end": None,
    }


def mark_ended(state: CallState | dict[str, Any], reason: str, node: str | None = None, turn: int | None = None,
               detail: Any = None) -> None:
    """End `state` in place (the interpreter's own turn): done, waiting for nothing, with its end."""
    state.update(status="done", waiting=None, end={"reason": reason, "node": node, "turn": turn, "detail": detail})


def end_session(state: CallState | dict[str, Any] | None, reason: str, *, node: str | None = None,
                turn: int | None = None, detail: Any = None) -> CallState:
    """A call ended for `reason` (one of `END_REASONS`, or a Dial status) outside a turn:
    the caller hung up, Twilio's final status came, the runtime failed. A new state; the given
    one is not changed. ``node`` defaults to the node the call waited at, ``turn`` to its turn.
    """
    ended: dict[str, Any] = dict(state or new_state())
    if node is None:
        node = waiting_node(ended)
    mark_ended(ended, reason, node, ended.get("turn") if turn is None else turn, detail)
    return ended  # type: ignore[return-value]


def ended_state(turn: int, reason: str, node: str | None = None, detail: Any = None) -> CallState:
    """The state of a call that ended at `turn` without running a flow (no flow, or the flow is gone)."""
    state = new_state()
    state["turn"] = turn
    mark_ended(state, reason, node, turn, detail)
    return state


def waiting_until(state: CallState | dict[str, Any] | None) -> str | None:
    """When a messaging session's waiting node times out (ISO time), or None."""
    waiting = (state or {}).get("waiting") or {}
    return waiting.get("until") or None


def waiting_turn(state: CallState | dict[str, Any] | None) -> int | None:
    """The turn that set the current wait (a wait token: a later wait has another), or None."""
    waiting = (state or {}).get("waiting") or {}
    turn = waiting.get("turn")
    return int(turn) if turn is not None else None


def waiting_node(state: CallState | dict[str, Any] | None) -> str | None:
    """The node the call waits at, or None (a new call, or one that has ended)."""
    waiting = (state or {}).get("waiting") or {}
    return waiting.get("node") or None


def expects(state: CallState | dict[str, Any] | None) -> list[str]:
    """The event kinds the waiting node accepts ([] when nothing waits)."""
    waiting = (state or {}).get("waiting") or {}
    return list(waiting.get("expects") or [])


def is_done(state: CallState | dict[str, Any] | None) -> bool:
    """Whether the call has ended."""
    return (state or {}).get("status") == "done"


def end_of(state: CallState | dict[str, Any] | None) -> End:
    """The call's end record (``{}`` while it runs)."""
    return (state or {}).get("end") or {}


def turn_of(state: CallState | dict[str, Any] | None) -> int:
    """The number of turns the call has run."""
    return int((state or {}).get("turn", 0))
