"""Validation issues: errors block publishing, warnings are shown in the designer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem found in a flow. `field` is a prop path such as ``options[1].digit``."""

    severity: Severity
    code: str
    message: str
    node_id: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-able form for the API and the designer."""
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "node_id": self.node_id,
            "field": self.field,
        }


def error(code: str, message: str, node_id: str | None = None, field: str | None = None) -> Issue:
    """Shorthand for an error issue."""
    return Issue("error", code, message, node_id, field)


def warning(code: str, message: str, node_id: str | None = None, field: str | None = None) -> Issue:
    """Shorthand for a warning issue."""
    return Issue("warning", code, message, node_id, field)
