"""Real Twilio Studio exports through the API: each imports (201) and publishes; a transition to a
widget that does not exist is an error on that node that the user can fix, after which it publishes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from extensions import db
from models import Flow, FlowRevision
from tests.studio_exports import PLACEHOLDERS, REAL_EXPORTS, SHARED, fill_in, placeholders_on_calls

MISSING_WIDGET = "02-ca-regulatory-subflow-voicemail.json"  # Check_Decision's match "1" → "Goodbye"
# Widgets that act on a call: none of them may import as a placeholder.
VOICE_WIDGETS = {
    "say-play",
    "gather-input-on-call",
    "connect-call-to",
    "record-voicemail",
    "record-call",
    "enqueue-call",
    "capture-payments",
    "fork-stream",
    "run-function",
    "send-to-flex",
    "add-twiml-redirect",
    "make-http-request",
}


@pytest.fixture
def editor(make):
    org = make.org("acme")
    user = make.user("ed@example.com", role="editor", org=org)
    return org, user, make.api_headers(user, org)


def test_the_real_exports_are_there() -> None:
    assert len(REAL_EXPORTS) == 15


@pytest.mark.parametrize("path", REAL_EXPORTS, ids=lambda p: p.name[:2])
def test_every_real_export_imports_and_publishes(client, editor, path: Path) -> None:
    headers = editor[2]
    studio = json.loads(path.read_text())
    resp = client.post("/api/flows/import", json=studio, headers=headers)
    body = resp.get_json()
    assert resp.status_code == 201, body
    assert body["format"] == "studio"
    assert [r["widget"] for r in body["report"]] == [s["name"] for s in studio["states"]]
    errors = [i for i in body["issues"] if i["severity"] == "error"]
    published = client.post(f"/api/flows/{body['id']}/publish", json={}, headers=headers)
    if path.name == MISSING_WIDGET:
        subflows = [w["name"] for w in studio["states"] if w["type"] == "run-subflow"]
        assert len(subflows) == 4
        # The missing widget, and each run-subflow's Studio flow SID, which is no flow of this org.
        assert [(e["code"], e["node_id"], e["field"]) for e in errors] == [
            ("missing_target", "Offer_To_Retry", "outcomes.1"),
            *[("unknown_subflow", name, "flow") for name in subflows],
        ]
        assert published.status_code == 422
    elif path.name in PLACEHOLDERS:
        # A template's placeholders (a workflow SID, a Function URL) are errors until the user fills them in.
        assert sorted((e["code"], e["node_id"], e["field"]) for e in errors) == PLACEHOLDERS[path.name]
        assert published.status_code == 422
        flow = client.get(f"/api/flows/{body['id']}", headers=headers).get_json()
        fixed = {"definition": fill_in(flow["definition"]), "draft_version": flow["draft_version"]}
        saved = client.put(f"/api/flows/{body['id']}", json=fixed, headers=headers)
        assert not [i for i in saved.get_json()["issues"] if i["severity"] == "error"]
        published = client.post(f"/api/flows/{body['id']}/publish", json={}, headers=headers)
        assert published.status_code == 200 and published.get_json() == {"revision": 1, "published": True}
    else:
        assert errors == []
        assert published.status_code == 200 and published.get_json() == {"revision": 1, "published": True}
    assert placeholders_on_calls(body["report"], VOICE_WIDGETS) == []


def test_a_missing_widget_is_an_error_on_its_node_and_fixing_it_publishes(client, editor) -> None:
    headers = editor[2]
    studio = json.loads((SHARED / MISSING_WIDGET).read_text())
    body = client.post("/api/flows/import", json=studio, headers=headers).get_json()
    row = next(r for r in body["report"] if r["widget"] == "Offer_To_Retry")
    assert row["status"] == "partial" and "'1' → Goodbye: there is no widget by that name" in row["detail"]
    issue = next(i for i in body["issues"] if i["severity"] == "error" and i["code"] == "missing_target")
    assert issue["node_id"] == "Offer_To_Retry" and "'Goodbye'" in issue["message"]
    flow = client.get(f"/api/flows/{body['id']}", headers=headers).get_json()
    menu = next(n for n in flow["definition"]["nodes"] if n["id"] == "Offer_To_Retry")
    assert menu["type"] == "menu" and menu["outcomes"]["1"] == "Goodbye"
    refused = client.post(f"/api/flows/{body['id']}/publish", json={}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_flow"
    assert db.session.query(FlowRevision).count() == 0

    # The fixes a user makes in the designer: add the Goodbye the export forgot, and point the subflow
    # (a Studio flow SID) at a flow of this org.
    hours = client.post("/api/flows", json={"name": "Business hours check"}, headers=headers).get_json()
    fixed = copy.deepcopy(flow["definition"])
    for node in fixed["nodes"]:
        if node["type"] == "subflow":
            node["props"]["flow"] = str(hours["id"])
    fixed["nodes"].append(
        {"id": "Goodbye", "type": "hangup", "name": "Goodbye", "props": {"say": "Goodbye."}, "outcomes": {}}
    )
    saved = client.put(
        f"/api/flows/{body['id']}", json={"definition": fixed, "draft_version": flow["draft_version"]}, headers=headers
    )
    assert saved.status_code == 200, saved.get_json()
    assert not [i for i in saved.get_json()["issues"] if i["severity"] == "error"]
    published = client.post(f"/api/flows/{body['id']}/publish", json={}, headers=headers)
    assert published.status_code == 200 and published.get_json() == {"revision": 1, "published": True}
    # Exported again, the transition names the widget the user added.
    back = client.get(f"/api/flows/{body['id']}/export?format=studio", headers=headers).get_json()
    decision = next(s for s in back["states"] if s["name"] == "Check_Decision")
    assert {"next": "Goodbye", "event": "match"}.items() <= decision["transitions"][1].items()
    assert next(s for s in back["states"] if s["name"] == "Goodbye")["type"] == "say-play"


def test_an_unknown_widget_type_is_a_placeholder_not_a_refusal(client, editor) -> None:
    studio = {
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingCall", "next": "x"}],
                "properties": {},
            },
            {
                "name": "x",
                "type": "foo",
                "transitions": [{"event": "done", "next": "bye"}, {"event": "oops"}],
                "properties": {"color": "blue", "offset": {"x": 1, "y": 2}},
            },
            {
                "name": "bye",
                "type": "say-play",
                "transitions": [{"event": "audioComplete"}],
                "properties": {"say": "Bye"},
            },
        ],
    }
    resp = client.post("/api/flows/import", json=studio, headers=editor[2])
    body = resp.get_json()
    assert resp.status_code == 201
    row = body["report"][1]
    assert row["status"] == "unsupported" and "'foo' is not a widget type of Twilio's Studio library" in row["detail"]
    assert not [i for i in body["issues"] if i["severity"] == "error"]
    back = client.get(f"/api/flows/{body['id']}/export?format=studio", headers=editor[2]).get_json()
    assert back["states"][1] == studio["states"][1]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"initial_state": "Trigger", "states": "nope"}, "states"),
        ({"initial_state": "Trigger", "states": [{"name": "Trigger", "type": "trigger"}, 7]}, "states[1]"),
        ({"hello": "world"}, "found keys: hello"),
    ],
)
def test_only_a_body_that_is_not_a_flow_is_refused(client, editor, body, where) -> None:
    resp = client.post("/api/flows/import", json=body, headers=editor[2])
    assert resp.status_code == 400 and where in resp.get_json()["error"]["message"]
    assert db.session.query(Flow).count() == 0


def test_a_parent_imported_after_its_child_is_linked_to_it_by_the_studio_flow_sid(client, editor) -> None:
    from tests.engine.test_studio_liquid import CHILD, parent_flow

    headers = editor[2]
    sid = "FWb552acd55e1c802ef3ede4a0a9cf20b5"  # what 02's Business_Hours_Check runs
    child = client.post("/api/flows/import", json={"sid": sid, "definition": CHILD}, headers=headers).get_json()
    assert child["report"][0]["status"] == "mapped"
    assert client.post(f"/api/flows/{child['id']}/publish", json={}, headers=headers).status_code == 200
    parent = client.post("/api/flows/import", json=parent_flow(), headers=headers).get_json()
    row = next(r for r in parent["report"] if r["widget"] == "Business_Hours_Check")
    assert f"linked to flow {child['id']}, imported from that Studio flow" in row["detail"]
    assert not [i for i in parent["issues"] if i["severity"] == "error"]
    flow = client.get(f"/api/flows/{parent['id']}", headers=headers).get_json()
    sub = next(n for n in flow["definition"]["nodes"] if n["type"] == "subflow")
    assert sub["props"]["flow"] == str(child["id"])
    assert client.post(f"/api/flows/{parent['id']}/publish", json={}, headers=headers).status_code == 200
    # A Studio flow SID that no imported flow came from stays, and is the subflow's error until picked.
    other = parent_flow()
    other["states"][2]["properties"]["flow_sid"] = "FW" + "0" * 32
    body = client.post("/api/flows/import", json=other, headers=headers).get_json()
    errors = [i for i in body["issues"] if i["severity"] == "error"]
    assert [i["code"] for i in errors] == ["unknown_subflow"]
    expected = f"The subflow runs Twilio Studio flow FW{'0' * 32}. Import that flow and choose it here."
    assert errors[0]["message"] == expected
