"""The designer page and its JSON endpoints: save (with conflicts), validate, analytics."""

import copy

from extensions import db
from models import Flow
from services import flow_revisions as svc
from tests.designer.conftest import designer_data


def test_page_embeds_the_draft_catalog_and_urls(ed, acme):
    fid = acme["flow"].id
    resp = ed.get(f"/flows/{fid}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    data = designer_data(html)
    assert data["definition"]["start"] == "hours" and data["draftVersion"] == 1 and data["readonly"] is False
    assert {t["type"] for t in data["catalog"]["types"]} >= {"menu", "say", "business_hours", "pay"}
    assert data["urls"]["save"] == f"/flows/{fid}/draft"
    assert 'id="publish-btn"' in html and 'data-type="menu"' in html and 'role="tablist"' in html
    assert "America/New_York" in html  # the time zone list for the forms


def test_viewer_gets_a_read_only_canvas(vi, acme):
    html = vi.get(f"/flows/{acme['flow'].id}").get_data(as_text=True)
    data = designer_data(html)
    assert data["readonly"] is True
    assert 'id="publish-btn"' not in html and "View only" in html and 'data-type="menu"' not in html


def test_save_draft_bumps_the_version_and_returns_issues(ed, acme):
    fid = acme["flow"].id
    definition = copy.deepcopy(acme["flow"].draft)
    del definition["nodes"][1]["props"]["prompt"]
    resp = ed.json(f"/flows/{fid}/draft", {"definition": definition, "draft_version": 1})
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["draft_version"] == 2 and body["saved_by"] == "ed@example.com"
    assert any(i["node_id"] == "main" and i["field"] == "prompt" for i in body["issues"])
    assert body["state"] == {"published": None, "unpublished": True}
    db.session.expire_all()
    assert "prompt" not in db.session.get(Flow, fid).draft["nodes"][1]["props"]


def test_a_stale_save_is_a_conflict_naming_who_saved(ed, acme):
    fid = acme["flow"].id
    flow = svc.get_flow(acme["org"], fid)
    other = copy.deepcopy(flow.draft)
    other["nodes"][0]["name"] = "Theirs"
    svc.save_draft(acme["org"], acme["viewer"], flow, other, 1)  # someone else saved first
    db.session.commit()
    mine = copy.deepcopy(acme["flow"].draft)
    mine["nodes"][0]["name"] = "Mine"
    resp = ed.json(f"/flows/{fid}/draft", {"definition": mine, "draft_version": 1})
    body = resp.get_json()
    assert resp.status_code == 409
    assert body["error"]["code"] == "stale_draft" and body["conflict"]["by"] == "vi@example.com"
    assert body["conflict"]["draft_version"] == 2 and body["conflict"]["at"].endswith("Z")
    db.session.expire_all()
    assert db.session.get(Flow, fid).draft["nodes"][0]["name"] == "Theirs"
    resp = ed.json(f"/flows/{fid}/draft", {"definition": mine, "draft_version": 1, "force": True})
    assert resp.status_code == 200 and resp.get_json()["draft_version"] == 3
    assert body["conflict"]["mine"] is False and "vi@example.com saved this flow" in body["error"]["message"]
    own = ed.json(f"/flows/{fid}/draft", {"definition": mine, "draft_version": 2})  # ed's other tab saved 3
    assert own.status_code == 409 and own.get_json()["conflict"]["mine"] is True
    assert own.get_json()["error"]["message"] == (
        "You saved this flow in another tab or window since this one loaded it."
    )
    db.session.expire_all()
    assert db.session.get(Flow, fid).draft["nodes"][0]["name"] == "Mine"


def test_save_rejects_bad_input_with_messages(ed, acme):
    fid = acme["flow"].id
    resp = ed.post(f"/flows/{fid}/draft", data="nope", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "JSON object" in resp.get_json()["error"]["message"]
    resp = ed.json(f"/flows/{fid}/draft", {"definition": acme["flow"].draft})
    assert resp.status_code == 400 and "draft_version" in resp.get_json()["error"]["message"]
    bad = {"spec": "phonetree/1", "nodes": [{"id": "a", "type": "say", "outcomes": {"next": 5}}]}
    resp = ed.json(f"/flows/{fid}/draft", {"definition": bad, "draft_version": 1})
    body = resp.get_json()
    assert resp.status_code == 400 and body["path"] == "nodes[0].outcomes.next"
    assert "must name a target node id" in body["error"]["message"]


def test_viewer_cannot_save_and_other_orgs_are_not_found(vi, ed, acme, other_flow):
    definition = acme["flow"].draft
    resp = vi.json(f"/flows/{acme['flow'].id}/draft", {"definition": definition, "draft_version": 1})
    assert resp.status_code == 403
    resp = ed.json(f"/flows/{other_flow.id}/draft", {"definition": definition, "draft_version": 1})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert ed.json(f"/flows/{other_flow.id}/validate", {"definition": definition}).status_code == 404


def test_validate_reports_errors_and_warnings_without_saving(vi, acme):
    definition = copy.deepcopy(acme["flow"].draft)
    definition["nodes"][1]["outcomes"]["1"] = "nowhere"
    resp = vi.json(f"/flows/{acme['flow'].id}/validate", {"definition": definition})
    body = resp.get_json()
    assert resp.status_code == 200 and body["errors"] >= 1
    assert any(i["code"] == "missing_target" and i["field"] == "outcomes.1" for i in body["issues"])
    ok = vi.json(f"/flows/{acme['flow'].id}/validate", {"definition": acme["flow"].draft}).get_json()
    assert ok["errors"] == 0


def test_analytics_periods(vi, acme):
    fid = acme["flow"].id
    for period in ("today", "7d", "30d"):
        body = vi.get(f"/flows/{fid}/analytics?period={period}", headers={"Accept": "application/json"}).get_json()
        assert body["period"] == period and body["calls"] == 0 and body["nodes"] == {}
    resp = vi.get(f"/flows/{fid}/analytics?period=year")
    assert resp.status_code == 400 and "period must be one of" in resp.get_json()["error"]["message"]
    assert vi.get(f"/flows/{fid}/analytics?period=rev:1").status_code == 400  # nothing published yet
    svc.publish(acme["org"], acme["editor"], svc.get_flow(acme["org"], fid), "first")
    db.session.commit()
    assert '<option value="rev:1">Since revision 1</option>' in vi.get(f"/flows/{fid}").get_data(as_text=True)
    body = vi.get(f"/flows/{fid}/analytics?period=rev:1", headers={"Accept": "application/json"}).get_json()
    assert body["label"] == "Since revision 1" and body["calls"] == 0 and body["nodes"] == {}


def test_revision_page_is_read_only(ed, acme):
    fid = acme["flow"].id
    svc.publish(acme["org"], acme["editor"], svc.get_flow(acme["org"], fid), "first")
    db.session.commit()
    html = ed.get(f"/flows/{fid}/revisions/1").get_data(as_text=True)
    data = designer_data(html)
    assert data["readonly"] is True and data["revision"] == 1 and "Revision 1 · read-only" in html
    assert "Load into the draft" in html
    assert ed.get(f"/flows/{fid}/revisions/7").status_code == 404
