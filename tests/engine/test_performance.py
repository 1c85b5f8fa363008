"""The benchmark's generated flows are valid (speed itself is measured by bench/engine.py, not by tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from flows import has_errors, validate


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "engine.py"
    spec = importlib.util.spec_from_file_location("phonetree_bench_engine", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def test_generated_flows_are_valid() -> None:
    for size in (100, 1000):
        assert not has_errors(validate(BENCH.generate_flow(size)))


def test_generated_studio_flow_imports_whole_and_valid() -> None:
    from flows.studio import import_studio

    data = BENCH.generate_studio_flow(1000)
    assert len(data["states"]) == 1001
    definition, report = import_studio(data)
    assert {r["status"] for r in report} == {"mapped"}
    assert not has_errors(validate(definition))
    name, largest = BENCH.largest_studio_export()
    assert name.startswith("14-") and len(largest["states"]) == 55
