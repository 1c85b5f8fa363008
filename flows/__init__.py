"""Phonetree's flow engine: definitions, node types, validation, the interpreter and TwiML.

Pure Python (no Flask, no database): given a flow definition, a call's state and one event
from Twilio, `run_turn` returns the new state, the steps taken and the TwiML to answer.
"""

from flows import nodes as _nodes  # noqa: F401  (registers the built-in node types)
from flows.capabilities import FakeServices, NullServices, Services
from flows.definition import (
    SPEC_VERSION,
    DefinitionError,
    FlowDefinition,
    Node,
    Settings,
    load_definition,
)
from flows.interpreter import hand_over, queue_music_twiml, run_turn
from flows.issues import Issue
from flows.registry import NODE_TYPES, Field, NodeType, node_type_catalog, register
from flows.runtime import EVENT_KINDS, Event, Step, TurnContext, TurnResult
from flows.state import END_REASONS, CallState, end_session, ended_state
from flows.twiml import fallback_twiml
from flows.twiml import render as render_twiml
from flows.validation import has_errors, validate
from flows.webhooks import event_from_webhook

__all__ = [
    "END_REASONS",
    "EVENT_KINDS",
    "NODE_TYPES",
    "SPEC_VERSION",
    "CallState",
    "DefinitionError",
    "Event",
    "FakeServices",
    "Field",
    "FlowDefinition",
    "Issue",
    "Node",
    "NodeType",
    "NullServices",
    "Services",
    "Settings",
    "Step",
    "TurnContext",
    "TurnResult",
    "end_session",
    "ended_state",
    "event_from_webhook",
    "fallback_twiml",
    "hand_over",
    "has_errors",
    "load_definition",
    "node_type_catalog",
    "queue_music_twiml",
    "register",
    "render_twiml",
    "run_turn",
    "validate",
]
