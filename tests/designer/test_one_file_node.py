"""A node type is one file: a throwaway type defined only in tests/fixtures/throwaway_node.py
shows up in the catalog, the designer's palette and variable picker, validation, the test
console and the Studio export and import, and leaves nothing behind when it is unregistered."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from flows import NODE_TYPES, node_type_catalog, validate
from flows.registry import unregister
from flows.studio import export_studio, import_studio
from services.designer import template_scope
from tests.designer.conftest import designer_data
from tests.engine.helpers import Call

MODULE = "tests.fixtures.throwaway_node"
TYPE = "throwaway_stamp"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stamp() -> Iterator[ModuleType]:
    """The throwaway type, registered for one test and removed again (module and all)."""
    assert TYPE not in NODE_TYPES
    sys.modules.pop(MODULE, None)
    module = importlib.import_module(MODULE)
    try:
        yield module
    finally:
        unregister(TYPE)
        sys.modules.pop(MODULE, None)


def stamped_flow(label: str | None = "vip {{ call.from }}") -> dict:
    """stamp → say (reading the stamp's result) → hangup."""
    props = {} if label is None else {"label": label}
    return {
        "spec": "phonetree/1",
        "start": "stamp",
        "settings": {},
        "nodes": [
            {"id": "stamp", "type": TYPE, "name": "Stamp it", "props": props, "outcomes": {"next": "hello"}},
            {"id": "hello", "type": "say", "props": {"prompt": {"say": "Stamped {{ widgets.stamp.label }}."}},
             "outcomes": {"next": "bye"}},
            {"id": "bye", "type": "hangup", "props": {}, "outcomes": {}},
        ],
        "ui": {"nodes": {"stamp": {"x": 40, "y": 0}, "hello": {"x": 40, "y": 200}, "bye": {"x": 40, "y": 400}}},
    }


def test_no_other_file_names_the_type() -> None:
    places = [p for p in ("flows", "services", "web", "upstream", "templates", "static/js", "docs", "README.md")
              if (ROOT / p).exists()]
    hits = [
        path
        for place in places
        for path in [ROOT / place, *(ROOT / place).rglob("*")]
        if path.suffix in (".py", ".js", ".html", ".md", ".json") and TYPE in path.read_text(errors="replace")
    ]
    assert hits == []


def test_the_catalog_describes_it(stamp: ModuleType) -> None:
    catalog = node_type_catalog()
    entry = next(t for t in catalog["types"] if t["type"] == TYPE)
    assert [f["name"] for f in entry["fields"]] == ["label"] and entry["fields"][0]["required"] is True
    assert entry["outcomes"] == ["next"] and entry["results"] == ["label"]
    assert (entry["icon"], entry["category"]) == ("flag", "Testing") and "Testing" in catalog["categories"]
    assert entry["summary"] == ["Stamp {label}", "Not stamped yet"] and entry["starter_props"] == {"label": ""}
    assert catalog["types"][-1] is entry  # a category of its own comes after the built-in ones
    sprite = (ROOT / "static/vendor/lucide-static-1.62.0/icons.svg").read_text()
    assert f'id="i-{entry["icon"]}"' in sprite


def test_the_designer_palette_and_variable_picker(stamp: ModuleType, ed, acme) -> None:
    html = ed.get(f"/flows/{acme['flow'].id}").get_data(as_text=True)
    assert f'data-type="{TYPE}"' in html
    assert re.search(r'<div class="palette-title">Testing</div>', html)
    assert TYPE in {t["type"] for t in designer_data(html)["catalog"]["types"]}
    scope = template_scope(stamped_flow(), "hello")
    assert scope.widgets == [{"node": "stamp", "label": "Stamp it", "fields": ["widgets.stamp.label"]}]


def test_validation_asks_for_the_required_field(stamp: ModuleType, ed, acme) -> None:
    assert validate(stamped_flow()) == []
    issues = validate(stamped_flow(label=None))
    assert [(i.code, i.node_id, i.field) for i in issues] == [("required", "stamp", "label")]
    resp = ed.json(f"/flows/{acme['flow'].id}/validate", {"definition": stamped_flow(label=None)})
    assert resp.status_code == 200 and resp.get_json()["errors"] == 1
    assert resp.get_json()["issues"][0]["field"] == "label"


def test_the_test_console_runs_it(stamp: ModuleType, ed, acme) -> None:
    fid = acme["flow"].id
    resp = ed.json(f"/flows/{fid}/draft", {"definition": stamped_flow(), "draft_version": 1})
    assert resp.status_code == 200 and resp.get_json()["issues"] == []
    resp = ed.htmx(f"/flows/{fid}/console/start", {"from": "+15550001234"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "Stamped vip +15550001234." in resp.get_data(as_text=True)
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert event["path"][:2] == [{"node": "stamp", "outcome": "next"}, {"node": "hello", "outcome": "next"}]
    assert event["done"] is True


def test_studio_export_and_import_back(stamp: ModuleType) -> None:
    studio = export_studio(stamped_flow())
    widget = next(s for s in studio["states"] if s["name"] == "stamp")
    assert widget["type"] == "run-function" and widget["properties"]["url"] == stamp.STAMP_URL
    assert widget["properties"]["parameters"] == [{"key": "label", "value": "vip {{trigger.call.From}}"}]
    assert {t["event"]: t.get("next") for t in widget["transitions"]} == {"success": "hello", "fail": "hello"}
    definition, report = import_studio(studio)
    node = next(n for n in definition["nodes"] if n["id"] == "stamp")
    assert node["type"] == TYPE and node["outcomes"] == {"next": "hello"}
    assert validate(definition) == []
    assert ">Stamped vip +14155550123.</Say>" in Call(definition).start().twiml  # the label still renders
    row = next(r for r in report if r["widget"] == "stamp")
    assert row == {"widget": "stamp", "type": "run-function", "status": "mapped", "detail": f"→ {TYPE}"}


def test_another_function_is_left_to_the_built_in_mapping(stamp: ModuleType) -> None:
    studio = export_studio(stamped_flow())
    for state in studio["states"]:
        if state["name"] == "stamp":
            state["properties"]["url"] = "https://functions.example.com/other"
    definition, report = import_studio(studio)
    assert next(n for n in definition["nodes"] if n["id"] == "stamp")["type"] == "run_function"
    assert next(r for r in report if r["widget"] == "stamp")["status"] == "mapped"


def test_unregistered_it_is_gone_everywhere() -> None:
    assert TYPE not in NODE_TYPES and MODULE not in sys.modules
    catalog = node_type_catalog()
    assert TYPE not in {t["type"] for t in catalog["types"]} and "Testing" not in catalog["categories"]
    issues = validate(stamped_flow())
    assert [(i.code, i.node_id) for i in issues if i.severity == "error"][:1] == [("unknown_type", "stamp")]
