"""Engine test fixtures: every result a node publishes must be one its type declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flows import NODE_TYPES
from flows.runtime import Runtime


@pytest.fixture(autouse=True)
def declared_results_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test whose node publishes a result its type does not list in `results`.

    The designer's variable picker offers exactly the declared results, so an undeclared one
    would be usable in templates but invisible to authors.
    """
    publish = Runtime.set_result

    def checked(self: Runtime, node_id: str, result: dict[str, Any]) -> None:
        node = self.definition.node(node_id)
        node_type = NODE_TYPES.get(node.type) if node is not None else None
        if node_type is not None:
            undeclared = set(result) - set(node_type.results)
            assert not undeclared, f"{node.type} publishes undeclared results {sorted(undeclared)}"
        publish(self, node_id, result)

    monkeypatch.setattr(Runtime, "set_result", checked)
    yield
