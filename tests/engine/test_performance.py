"""Validation stays fast and close to linear; a turn stays cheap (best of several runs)."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from flows import has_errors, load_definition, validate


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "engine.py"
    spec = importlib.util.spec_from_file_location("phonetree_bench_engine", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def best(func: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def test_generated_flows_are_valid() -> None:
    for size in (100, 1000):
        assert not has_errors(validate(BENCH.generate_flow(size)))


def test_validation_of_1000_nodes_under_50_ms_and_close_to_linear() -> None:
    small, large = BENCH.generate_flow(1000), BENCH.generate_flow(5000)
    validate(small), validate(large)  # templates are analysed once per source, then cached
    t_small, t_large = best(lambda: validate(small)), best(lambda: validate(large), 3)
    assert t_small < 0.050, f"1,000 nodes took {t_small * 1e3:.1f} ms"
    assert t_large / t_small < 8, f"5x the nodes took {t_large / t_small:.1f}x the time"


def test_a_turn_is_cheap() -> None:
    loaded = load_definition(BENCH.generate_flow(200))
    BENCH.drive_turns(loaded, 20)
    per_turn = best(lambda: BENCH.drive_turns(loaded, 200), 3) / 200
    assert per_turn < 0.002, f"{per_turn * 1e3:.2f} ms per turn"
