"""References a request may not bend: a subflow must be a flow of the same org, a draft_version an integer,
and a number SID ``PN`` + 32 hex digits before anything reaches Twilio (SQLite and PostgreSQL: ``db``)."""

from __future__ import annotations

import pytest

from extensions import db
from models import FlowRevision, PhoneNumber
from services import flow_revisions
from tests.plugins.upstream import twilio_config
from upstream.errors import IntegrationConfigError
from upstream.integrations import save_integration
from upstream.provider_cache import get_provider_for


def _with_subflow(target) -> dict:
    return {
        "spec": "phonetree/1",
        "start": "child",
        "nodes": [
            {"id": "child", "type": "subflow", "name": "Child", "props": {"flow": target}, "outcomes":
                {"completed": "bye", "failed": "bye"}},
            {"id": "bye", "type": "hangup", "name": "Bye", "props": {"say": "Bye."}, "outcomes": {}},
        ],
    }


@pytest.fixture
def orgs(app, make, twilio_fake):
    app.config.update(TWILIO_API_BASE_URL=twilio_fake.url, TWILIO_TIMEOUT_SECONDS=2)
    acme, other = make.org("acme", "Acme"), make.org("other", "Other")
    admin = make.user("admin@acme.example", "admin", acme)
    save_integration(acme, "TwilioProvider", "Acme Twilio", twilio_config(twilio_fake), verify=False)
    mine = flow_revisions.create_flow(acme, None, "Mine", template="main_menu")
    theirs = flow_revisions.create_flow(other, None, "Theirs", template="main_menu")
    db.session.commit()
    return {"acme": acme, "headers": make.api_headers(admin, acme), "mine": mine.id, "theirs": theirs.id,
            "fake": twilio_fake}


@pytest.mark.parametrize("target", ["theirs", "missing", "junk"])
def test_publish_refuses_a_subflow_outside_the_org(client, orgs, target):
    ref = {"theirs": orgs["theirs"], "missing": 2_000_000, "junk": "../1"}[target]
    flow = flow_revisions.create_flow(orgs["acme"], None, "Parent", _with_subflow(ref))
    db.session.commit()
    resp = client.post(f"/api/flows/{flow.id}/publish", json={}, headers=orgs["headers"])
    assert resp.status_code == 422, resp.get_data(as_text=True)
    issues = [i for i in resp.get_json()["issues"] if i["code"] == "unknown_subflow"]
    assert issues and issues[0]["node_id"] == "child" and issues[0]["field"] == "flow"
    assert "not a flow of this organisation" in issues[0]["message"]
    assert db.session.query(FlowRevision).filter_by(flow_id=flow.id).count() == 0
    body = client.post(f"/api/flows/{flow.id}/validate", json={}, headers=orgs["headers"]).get_json()
    assert body["valid"] is False and any(i["code"] == "unknown_subflow" for i in body["issues"])


def test_a_subflow_of_the_same_org_publishes_and_an_archived_one_warns(client, orgs):
    flow = flow_revisions.create_flow(orgs["acme"], None, "Parent", _with_subflow(str(orgs["mine"])))
    spare = flow_revisions.create_flow(orgs["acme"], None, "Spare", template="main_menu")
    db.session.commit()
    resp = client.post(f"/api/flows/{flow.id}/publish", json={}, headers=orgs["headers"])
    assert resp.status_code == 200 and resp.get_json()["revision"] == 1
    flow_revisions.archive(orgs["acme"], spare)
    flow_revisions.save_draft(orgs["acme"], None, flow, _with_subflow(str(spare.id)), flow.draft_version)
    db.session.commit()
    body = client.post(f"/api/flows/{flow.id}/validate", json={}, headers=orgs["headers"]).get_json()
    assert body["valid"] is True and any(i["code"] == "archived_subflow" for i in body["issues"])


def test_draft_version_must_be_an_integer(client, orgs):
    flow = client.get(f"/api/flows/{orgs['mine']}", headers=orgs["headers"]).get_json()
    for version in (True, "1", 1.0, None):
        resp = client.put(f"/api/flows/{orgs['mine']}", headers=orgs["headers"],
                          json={"definition": {**flow["definition"], "start": "x"}, "draft_version": version})
        assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "draft_version", version
    db.session.expire_all()
    assert flow_revisions.get_flow(orgs["acme"], orgs["mine"]).draft_version == flow["draft_version"]


@pytest.mark.parametrize("sid", ["../../Accounts", "PN" + "A" * 32, "PN" + "0" * 31, "PN" + "0" * 32 + "/x",
                                 "PN%2e%2e" + "0" * 26, "PN" + "0" * 32 + "?"])
def test_a_number_sid_is_checked_before_any_twilio_call(client, orgs, sid):
    fake = orgs["fake"]
    before = len(fake.state.requests)
    resp = client.post("/phone/numbers/add", json={"sid": sid, "mode": "voice"}, headers=orgs["headers"])
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_sid", resp.get_data(as_text=True)
    resp = client.post("/upstream/test/TwilioProvider/fetchNumber", json={"sid": sid}, headers=orgs["headers"])
    assert resp.status_code == 400, resp.get_data(as_text=True)
    provider = get_provider_for(orgs["acme"], "TwilioProvider")
    for call in (lambda: provider.fetch_number(sid), lambda: provider.update_number(sid, friendly_name="x"),
                 lambda: provider.release_number(sid)):
        with pytest.raises(IntegrationConfigError):
            call()
    assert len(fake.state.requests) == before
    assert db.session.query(PhoneNumber).count() == 0
