"""Built-in node types; importing this package registers them all in `flows.NODE_TYPES`."""

from flows.nodes import (
    builtin,
    connect,
    function,
    hours,
    inputs,
    integrations,
    logic,
    outbound,
    pay,
    redirect,
    send_message,
    voice,
    wait_for_reply,
)

__all__ = [
    "builtin",
    "connect",
    "function",
    "hours",
    "inputs",
    "integrations",
    "logic",
    "outbound",
    "pay",
    "redirect",
    "send_message",
    "voice",
    "wait_for_reply",
]
