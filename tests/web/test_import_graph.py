"""The layers of docs/DESIGN.md, checked on the source: every import (module level or inside a
function) of every package is read with `ast`, none may point up the layers, and the modules
of services/ import one another without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flows", "sim", "models", "upstream", "services", "web", "cli")
TOP_MODULES = ("app", "config", "extensions", "db_pool", "db_raw", "caches")
PROJECT = frozenset(PACKAGES + TOP_MODULES)

# What each part may import from the project (docs/DESIGN.md, "Packages"). A dotted name
# allows that one module only.
ALLOWED: dict[str, frozenset[str]] = {
    "flows": frozenset(),
    "sim": frozenset({"flows", "upstream.signature_values"}),
    "models": frozenset({"extensions"}),
    "extensions": frozenset(),
    "config": frozenset(),
    "db_raw": frozenset({"extensions"}),
    "db_pool": frozenset({"extensions"}),
    "caches": frozenset(),
    "upstream": frozenset({"models", "extensions", "db_raw", "caches", "flows"}),
    "services": frozenset({"models", "extensions", "db_raw", "db_pool", "caches", "flows", "upstream", "sim"}),
    "web": frozenset(
        {"models", "extensions", "db_raw", "db_pool", "caches", "config", "flows", "upstream", "services", "sim"}
    ),
    "cli": frozenset({"models", "extensions", "db_raw", "caches", "config", "flows", "upstream", "services", "sim"}),
    "app": PROJECT - {"app"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> list[tuple[str, int]]:
    """Every project module `path` imports, with its line: ``import a.b``, ``from a.b import c``
    (``a.b.c`` when c is a submodule) and relative imports, wherever they stand in the file."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*sub.split(".")) / "__init__.py"
                ).exists()
                found.append((sub if is_module else base, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in PROJECT]


def _sources() -> list[Path]:
    files = [ROOT / f"{name}.py" for name in TOP_MODULES]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if f.exists()]


def _allowed(part: str, target: str) -> bool:
    if target.split(".")[0] == part:
        return True
    rules = ALLOWED[part]
    return any(target == rule or target.startswith(rule + ".") for rule in rules)


def test_no_import_against_the_layers():
    wrong = []
    for path in _sources():
        part = _module_name(path).split(".")[0]
        for target, line in _imports(path):
            if not _allowed(part, target):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against docs/DESIGN.md's layers:\n" + "\n".join(wrong)


def test_no_import_cycle_between_service_modules():
    graph = nx.DiGraph()
    for path in sorted((ROOT / "services").rglob("*.py")):
        source = _module_name(path)
        graph.add_node(source)
        for target, _ in _imports(path):
            if target.startswith("services.") and target != source:
                graph.add_edge(source, target)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles between modules of services/: {cycles}"


@pytest.mark.parametrize("package", ["upstream", "flows"])
def test_engine_and_vendor_code_import_no_service_or_view(package):
    hits = [
        f"{path.relative_to(ROOT)}:{line} {target}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for target, line in _imports(path)
        if target.split(".")[0] in ("services", "web", "cli", "app")
    ]
    assert hits == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from services.calls import handle_webhook\n    import web.connect\n"
                     "    from . import call_flow\n")
    found = _imports(probe, "services.probe")
    assert ("services.calls", 2) in found and ("web.connect", 3) in found and ("services.call_flow", 4) in found
