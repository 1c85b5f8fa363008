"""caches.py is the one cache policy: every cache of the code base is named there, bounded and
kept per app; the only ``lru_cache``s left are the engine's pure memos it lists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from flask import Flask

import caches
from caches import NamedCache

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flows", "sim", "models", "upstream", "services", "web", "cli")
MEMO_DECORATORS = {"lru_cache", "cache", "cached_property"}


def _decorated_memos() -> set[str]:
    """Every ``module:function`` decorated with functools' lru_cache/cache/cached_property."""
    found: set[str] = set()
    files = [ROOT / f"{name}.py" for name in ("app", "config", "extensions", "db_pool", "db_raw")]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    for path in files:
        if not path.exists():
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name in MEMO_DECORATORS:
                    found.add(f"{module}:{node.name}")
    return found


def test_every_memo_of_the_code_base_is_a_listed_pure_memo():
    lru = [memo for memo in caches.PURE_MEMOS if memo.kind == "lru_cache"]
    assert _decorated_memos() == {memo.function for memo in lru}
    for memo in lru:
        assert memo.function.startswith("flows."), "only the engine (no database, no app) keeps lru_caches"
        module, name = memo.function.split(":")
        function = getattr(importlib.import_module(module), name)
        assert function.cache_info().maxsize == memo.maxsize
    for memo in caches.PURE_MEMOS:
        if memo.kind == "dict":
            module, name = memo.function.split(":")
            assert name.split(".")[-1] in (ROOT / (module.replace(".", "/") + ".py")).read_text()


def test_named_caches_are_unique_bounded_and_described():
    names = [cache.name for cache in caches.CACHES]
    assert len(names) == len(set(names))
    for cache in caches.CACHES:
        assert cache.maxsize > 0 and cache.keyed_by and cache.invalidated_by
        assert f"``{cache.name}``" in caches.__doc__


def test_a_full_cache_drops_its_oldest_entry_and_apps_do_not_share():
    cache = NamedCache("test_bounded", "a number", "never", 2)
    first, second = Flask("first"), Flask("second")
    with first.app_context():
        for key in (1, 2, 3):
            assert cache.put(key, str(key)) == str(key)
        assert cache.get(1) is None and cache.get(2) == "2" and cache.get(3) == "3" and len(cache) == 2
        cache.put(3, "three")  # replacing an entry evicts nothing
        assert cache.get(2) == "2" and cache.get(3) == "three"
        cache.pop(3)
        assert cache.get(3, "gone") == "gone"
    with second.app_context():
        assert len(cache) == 0
        cache.put(1, "other")
    with first.app_context():
        assert cache.get(1) is None and cache.get(2) == "2"
        cache.clear()
        assert len(cache) == 0


@pytest.mark.db
def test_published_and_compiled_definitions_are_cached_by_revision_id(make):
    from flows import FlowDefinition
    from services.call_flow import compiled
    from services.flow_revisions import create_flow, publish, published_definition

    org = make.org()
    user = make.user(org=org)
    revision = publish(org, user, create_flow(org, user, "Cached", template="main_menu"))
    first = published_definition(revision.id)
    assert published_definition(revision.id) is first  # no second read of the row
    assert caches.PUBLISHED_DEFINITIONS.get(revision.id) is first
    loaded = compiled(first, revision.id)
    assert isinstance(loaded, FlowDefinition)
    # Keyed by the revision id alone: an equal dict of the same revision finds the same compiled definition.
    assert compiled(dict(first), revision.id) is loaded
    assert compiled(first, None) is first  # a draft is never cached
    with pytest.raises(KeyError):
        published_definition(revision.id + 1000)
