"""Built-in node types; importing this package registers them all in `flows.NODE_TYPES`."""

from flows.nodes import builtin, connect, hours, inputs, integrations, logic, outbound, pay, voice

__all__ = ["builtin", "connect", "hours", "inputs", "integrations", "logic", "outbound", "pay", "voice"]
