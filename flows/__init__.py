"""Phonetree's flow engine: definitions, node types, validation, the interpreter and TwiML.

Pure Python (no Flask, no database): given a flow definition, a call's state and one event
from Twilio, `run_turn` returns the new state, the steps taken and the TwiML to answer.
"""

from flows import nodes as _nodes  # noqa: F401  (registers the built-in node types)
from flows.definition import (
    SPEC_VERSION,
    DefinitionError,
    FlowDefinition,
    Node,
    Settings,
    load_definition,
)
from flows.issues import Issue
from flows.registry import NODE_TYPES, Field, NodeType, node_type_catalog, register

__all__ = [
    "NODE_TYPES",
    "SPEC_VERSION",
    "DefinitionError",
    "Field",
    "FlowDefinition",
    "Issue",
    "Node",
    "NodeType",
    "Settings",
    "load_definition",
    "node_type_catalog",
    "register",
]
