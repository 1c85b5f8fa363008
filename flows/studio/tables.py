"""The Studio ⇄ Phonetree mapping tables: widget types, transition events and operators.

Kept as data so the importer, the exporter and the documentation agree. An event maps to a
tuple of outcomes (an event may feed several outcomes, e.g. Connect Call To's ``callCompleted``
is every dial result); several events feeding one outcome with different targets are split
again by a small branch on the node's result (see ``FAILURE_CODES``).
"""

from __future__ import annotations

# Studio widget type -> Phonetree node type (the nearest one).
WIDGET_NODE: dict[str, str] = {
    "say-play": "say",
    "gather-input-on-call": "collect_input",  # or "menu" with the Split that reads its Digits
    "split-based-on": "branch",
    "set-variables": "set_variables",
    "record-voicemail": "record",
    "capture-payments": "pay",
    "connect-call-to": "transfer",
    "enqueue-call": "enqueue",
    "send-to-flex": "enqueue",  # a TaskRouter workflow target
    "make-http-request": "http_request",
    "send-message": "send_message",
    "send-and-wait-for-reply": "wait_for_reply",
    "run-function": "run_function",
    "add-twiml-redirect": "twiml_redirect",
    "run-subflow": "subflow",
}

# Studio event -> Phonetree outcomes, per widget type.
EVENT_OUTCOMES: dict[str, dict[str, tuple[str, ...]]] = {
    "say-play": {"audioComplete": ("next",)},
    "gather-input-on-call": {"keypress": ("success",), "speech": ("success",), "timeout": ("no_input",)},
    "set-variables": {"next": ("next",)},
    "record-voicemail": {"recordingComplete": ("recorded",), "noAudio": ("no_audio",), "hangup": ("hangup",)},
    "capture-payments": {
        "success": ("success",),
        "maxFailedAttempts": ("failed",),
        "providerError": ("failed",),
        "payInterrupted": ("failed",),
        "hangup": ("failed",),
        "validationError": ("failed",),
    },
    "connect-call-to": {
        "callCompleted": ("answered", "no_answer", "busy", "failed"),
        # names some exports and the Make Outgoing Call widget use for dial results
        "answered": ("answered",),
        "bridged": ("answered",),
        "noAnswer": ("no_answer",),
        "busy": ("busy",),
        "failed": ("failed",),
        "callFailed": ("failed",),
    },
    "enqueue-call": {
        "callComplete": ("bridged", "leave"),
        "bridged": ("bridged",),
        "failedToEnqueue": ("error",),
        "callFailure": ("hangup",),
        "hangup": ("hangup",),
    },
    "make-http-request": {"success": ("success",), "failed": ("failed",)},
    "run-function": {"success": ("success",), "fail": ("failed",)},
    "add-twiml-redirect": {"return": ("return",), "timeout": ("timeout",), "fail": ("failed",)},
    "send-message": {"sent": ("sent",), "failed": ("failed",)},
    "run-subflow": {"completed": ("completed",), "failed": ("failed",)},
}

EVENT_OUTCOMES["send-to-flex"] = EVENT_OUTCOMES["enqueue-call"]  # Send to Flex is <Enqueue workflowSid>

# Events a widget may have that Phonetree cannot tell apart (reported when wired).
UNMAPPABLE_EVENTS: dict[str, dict[str, str]] = {
    "connect-call-to": {
        "hangup": "Phonetree follows the dial result after the caller hangs up",
    },
}

# Capture Payments failure events -> the <Pay> Result values that raise them.
FAILURE_CODES: dict[str, tuple[str, ...]] = {
    "maxFailedAttempts": ("too-many-failed-attempts", "input-timeout"),
    "providerError": ("payment-connector-error", "internal-error"),
    "payInterrupted": ("caller-interrupted-with-star",),
    "hangup": ("caller-hung-up",),
    "validationError": ("validation-error", "invalid-amount"),
}

# Split Based On condition type -> branch operator.
OPERATOR_MAP: dict[str, str] = {
    "equal_to": "equal_to",
    "not_equal_to": "not_equal_to",
    "matches_any_of": "matches_any_of",
    "does_not_match_any_of": "does_not_match_any_of",
    "contains": "contains",
    "does_not_contain": "does_not_contain",
    "starts_with": "starts_with",
    "does_not_start_with": "does_not_start_with",
    "regex": "regex",
    "less_than": "less_than",
    "greater_than": "greater_than",
    "is_blank": "is_blank",
    "is_not_blank": "is_not_blank",
    "is_before_time": "before_time",
    "is_after_time": "after_time",
}
OPERATOR_BACK: dict[str, str] = {v: k for k, v in OPERATOR_MAP.items()}
NO_VALUE_OPERATORS = frozenset({"is_blank", "is_not_blank"})

# Unsupported widgets become a branch placeholder; this event is its `no_match` (what the
# call does in Phonetree: the failure or pass-through path), the others stay as conditions.
PLACEHOLDER_FALLBACK: dict[str, str] = {
    "fork-stream": "next",
    "record-call": "failed",
    "send-to-flex": "failedToEnqueue",  # only where a text conversation reaches it (map_other.map_flex)
    "connect-virtual-agent": "return",
    "make-outgoing-call": "failed",
    "send-to-autopilot": "failure",
    "send-to-auto-pilot": "failure",
}

UNSUPPORTED_WHY: dict[str, str] = {
    "fork-stream": "Phonetree does not fork media streams",
    "record-call": "Phonetree records transfers (transfer.record), not the whole call",
    "connect-virtual-agent": "Dialogflow connectors are not available; an ai_agent node streams to a gateway",
    "make-outgoing-call": "the first version of the widget; use an Outgoing call node (make-outgoing-call-v2)",
    "send-to-autopilot": "Autopilot is retired",
    "send-to-auto-pilot": "Autopilot is retired",
}

TRIGGER_EVENTS = ("incomingMessage", "incomingCall", "incomingConversationMessage", "incomingRequest", "incomingParent")

DIGIT_KEYS = frozenset("0123456789*#")

# Enumerated properties as Studio's exports write them (Twilio's Studio widget reference: Capture
# Payments, Record Voicemail, Gather Input on Call), after folding (lower case, "_" and " " → "-"),
# mapped to the Phonetree value. Card types are folded by `flows.nodes.pay.card_type`.
PAYMENT_METHODS = {"credit-card": "credit-card", "ach-debit": "ach-debit", "ach": "ach-debit"}
TOKEN_TYPES = {"one-time": "one-time", "reusable": "reusable", "payment-method": "payment-method"}
TRIM_VALUES = {"trim-silence": "trim-silence", "do-not-trim": "do-not-trim"}
BANK_ACCOUNT_TYPES = {
    name: name for name in ("consumer-checking", "consumer-savings", "commercial-checking", "commercial-savings")
}
# Gather's speech properties: Twilio's speechModel names are kept as written (new ones appear).
SPEECH_PROPS = ("hints", "gather_language", "speech_timeout", "speech_model", "profanity_filter", "enhanced")
