"""The flows JSON API: drafts with optimistic concurrency, publish, revisions, rollback, import/export."""

import copy

import pytest

from extensions import db
from models import Flow, FlowRevision
from services import flow_revisions as svc
from services.flow_templates import template_definition


@pytest.fixture
def editor(make):
    org = make.org("acme")
    user = make.user("ed@example.com", role="editor", org=org)
    return org, user, make.api_headers(user, org)


def _create(client, headers, **body):
    resp = client.post("/api/flows", json={"name": "Main line", **body}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_create_from_template_list_and_get(client, editor):
    org, _, headers = editor
    created = _create(client, headers, template="main_menu")
    assert created["draft_version"] == 1 and created["published_revision"] is None
    assert created["definition"]["start"] == "hours"
    listed = client.get("/api/flows", headers=headers).get_json()["flows"]
    assert [f["name"] for f in listed] == ["Main line"]
    got = client.get(f"/api/flows/{created['id']}", headers=headers).get_json()
    assert got["issues"] == [] and got["has_unpublished_changes"] is True


@pytest.mark.parametrize("template", ["main_menu", "after_hours", "blank", "text_line"])
def test_starter_templates_keep_the_orgs_time(client, editor, template):
    org, _, headers = editor
    org.timezone = "Europe/Paris"
    db.session.commit()
    definition = _create(client, headers, template=template)["definition"]
    assert definition["settings"]["timezone"] == "Europe/Paris"
    hours = [n for n in definition["nodes"] if n["type"] == "business_hours"]
    assert all(n["props"]["timezone"] == "Europe/Paris" for n in hours)
    assert bool(hours) == (template not in ("blank", "text_line"))


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"name": ""}, "needs a name"),
        ({"name": "x", "template": "nope"}, "Unknown template"),
        ({"name": "x", "definition": {"spec": "phonetree/1", "nodes": "no"}}, "Not a valid flow definition"),
    ],
)
def test_create_rejects_bad_input(client, editor, body, needle):
    resp = client.post("/api/flows", json=body, headers=editor[2])
    assert resp.status_code == 400 and needle in resp.get_json()["error"]["message"]
    assert db.session.query(Flow).count() == 0


def test_stale_draft_is_refused_not_overwritten(client, editor):
    _, _, headers = editor
    flow = _create(client, headers)
    mine = copy.deepcopy(flow["definition"])
    mine["nodes"][0]["name"] = "Mine"
    theirs = copy.deepcopy(flow["definition"])
    theirs["nodes"][0]["name"] = "Theirs"
    first = client.put(f"/api/flows/{flow['id']}", json={"definition": theirs, "draft_version": 1}, headers=headers)
    assert first.status_code == 200 and first.get_json()["draft_version"] == 2
    stale = client.put(f"/api/flows/{flow['id']}", json={"definition": mine, "draft_version": 1}, headers=headers)
    err = stale.get_json()
    assert stale.status_code == 409 and err["error"]["code"] == "stale_draft"
    assert "ed@example.com saved this flow" in err["error"]["message"] and err["current_version"] == 2
    kept = client.get(f"/api/flows/{flow['id']}", headers=headers).get_json()
    assert kept["definition"]["nodes"][0]["name"] == "Theirs"


def test_update_without_version_or_with_malformed_definition(client, editor):
    _, _, headers = editor
    flow = _create(client, headers)
    resp = client.put(f"/api/flows/{flow['id']}", json={"definition": flow["definition"]}, headers=headers)
    assert resp.status_code == 400 and "draft_version" in resp.get_json()["error"]["message"]
    bad = copy.deepcopy(flow["definition"])
    bad["nodes"][1]["outcomes"] = ["not", "a", "map"]
    resp = client.put(f"/api/flows/{flow['id']}", json={"definition": bad, "draft_version": 1}, headers=headers)
    body = resp.get_json()
    assert resp.status_code == 400 and body["path"].startswith("nodes[1]")


def test_publish_invalid_flow_publishes_nothing(client, editor):
    _, _, headers = editor
    flow = _create(client, headers)
    broken = copy.deepcopy(flow["definition"])
    broken["nodes"][0]["outcomes"]["next"] = "missing-node"
    client.put(f"/api/flows/{flow['id']}", json={"definition": broken, "draft_version": 1}, headers=headers)
    resp = client.post(f"/api/flows/{flow['id']}/publish", json={"message": "try"}, headers=headers)
    body = resp.get_json()
    assert resp.status_code == 422 and body["error"]["code"] == "invalid_flow"
    assert any(i["node_id"] == "hello" and i["severity"] == "error" for i in body["issues"])
    assert db.session.query(FlowRevision).count() == 0


def test_publish_revisions_and_rollback(client, editor):
    _, _, headers = editor
    flow = _create(client, headers)
    fid = flow["id"]
    assert client.post(f"/api/flows/{fid}/publish", json={"message": "first"}, headers=headers).get_json() == {
        "revision": 1,
        "published": True,
    }
    changed = copy.deepcopy(flow["definition"])
    changed["nodes"][0]["props"]["prompt"]["say"] = "Welcome to version two."
    client.put(f"/api/flows/{fid}", json={"definition": changed, "draft_version": 1}, headers=headers)
    assert client.post(f"/api/flows/{fid}/publish", headers=headers).get_json()["revision"] == 2
    revs = client.get(f"/api/flows/{fid}/revisions", headers=headers).get_json()["revisions"]
    assert [r["number"] for r in revs] == [2, 1] and revs[1]["message"] == "first"
    assert revs[0]["author"] == "ed@example.com"
    back = client.post(f"/api/flows/{fid}/rollback", json={"revision": 1}, headers=headers).get_json()
    assert back == {"revision": 3, "rolled_back_to": 1}
    live = client.get(f"/api/flows/{fid}/revisions/3", headers=headers).get_json()
    assert live["definition"] == flow["definition"] and live["message"] == "Rollback to revision 1"
    # the draft keeps the unpublished work
    assert client.get(f"/api/flows/{fid}", headers=headers).get_json()["definition"] == changed
    missing = client.post(f"/api/flows/{fid}/rollback", json={"revision": 99}, headers=headers)
    assert missing.status_code == 400 and "no revision 99" in missing.get_json()["error"]["message"]


def test_revisions_are_immutable_and_calls_keep_theirs(app, make):
    org = make.org()
    user = make.user(org=org)
    flow = svc.create_flow(org, user, "F", template="blank")
    rev1 = svc.publish(org, user, flow)
    defn, rev, draft = svc.definition_for_call(org, flow, "+15550001111")
    assert rev.id == rev1.id and not draft and defn == rev1.definition
    edited = copy.deepcopy(flow.draft)
    edited["nodes"][0]["name"] = "Changed"
    svc.save_draft(org, user, flow, edited, flow.draft_version)
    svc.publish(org, user, flow)
    db.session.commit()
    assert db.session.get(FlowRevision, rev1.id).definition["nodes"][0]["name"] == "Greeting"
    assert svc.published_definition(rev1.id)["nodes"][0]["name"] == "Greeting"


def test_test_users_get_the_draft(app, make):
    org = make.org()
    user = make.user(org=org)
    flow = svc.create_flow(org, user, "F", template="blank")
    svc.publish(org, user, flow)
    assert svc.set_test_users(flow, ["(415) 555-0100", "+14155550100", ""]) == ["+14155550100"]
    _, rev, uses_draft = svc.definition_for_call(org, flow, "+14155550100")
    assert uses_draft and rev is None
    with pytest.raises(svc.FlowError, match="not a phone number"):
        svc.set_test_users(flow, ["call me"])


def test_import_phonetree_and_export(client, editor):
    _, _, headers = editor
    definition = template_definition("payment_line")
    resp = client.post("/api/flows/import?name=Payments", json=definition, headers=headers)
    body = resp.get_json()
    assert resp.status_code == 201 and body["format"] == "phonetree" and body["name"] == "Payments"
    assert body["issues"] == []
    exported = client.get(f"/api/flows/{body['id']}/export?format=phonetree", headers=headers).get_json()
    assert exported == definition
    bad = client.get(f"/api/flows/{body['id']}/export?format=xml", headers=headers)
    assert bad.status_code == 400
    too_large = client.get(f"/api/flows/{body['id']}/export?revision={'9' * 20}", headers=headers)
    assert too_large.status_code == 404 and too_large.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("payload", [[1, 2], {"hello": "world"}, "just a string"])
def test_import_rejects_what_is_not_a_flow(client, editor, payload):
    resp = client.post("/api/flows/import", json=payload, headers=editor[2])
    assert resp.status_code == 400 and resp.get_json()["error"]["message"]
    assert db.session.query(Flow).count() == 0


def test_import_non_json_body(client, editor):
    resp = client.post("/api/flows/import", data="<xml/>", headers=editor[2] | {"Content-Type": "text/xml"})
    assert resp.status_code == 400 and "not valid JSON" in resp.get_json()["error"]["message"]


def test_viewer_reads_but_cannot_write(client, make):
    org = make.org()
    make.user("ed@example.com", role="editor", org=org)
    viewer = make.user("val@example.com", role="viewer", org=org)
    headers = make.api_headers(viewer, org)
    assert client.get("/api/flows", headers=headers).status_code == 200
    assert client.post("/api/flows", json={"name": "x"}, headers=headers).status_code == 403


def test_other_orgs_flows_are_invisible(client, make):
    acme, other = make.org("acme"), make.org("other")
    ed = make.user("ed@example.com", role="editor", org=acme)
    zed = make.user("zed@example.com", role="editor", org=other)
    theirs = _create(client, make.api_headers(zed, other))
    headers = make.api_headers(ed, acme)
    assert client.get("/api/flows", headers=headers).get_json()["flows"] == []
    for method, path in [("get", ""), ("put", ""), ("post", "/publish"), ("get", "/export"), ("get", "/revisions")]:
        resp = getattr(client, method)(f"/api/flows/{theirs['id']}{path}", json={}, headers=headers)
        assert resp.status_code == 404, (method, path)


def test_archive_refused_while_a_number_uses_the_flow(client, editor):
    org, _, headers = editor
    from models import PhoneNumber

    flow = _create(client, headers)
    db.session.add(PhoneNumber(org_id=org.id, phone_number="+14155550100", mode="ivr", flow_id=flow["id"]))
    db.session.commit()
    resp = client.post(f"/api/flows/{flow['id']}/archive", json={}, headers=headers)
    assert resp.status_code == 400 and "+14155550100 still route" in resp.get_json()["error"]["message"]
    db.session.query(PhoneNumber).delete()
    db.session.commit()
    ok = client.post(f"/api/flows/{flow['id']}/archive", json={}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["archived"] is True
    assert client.get("/api/flows", headers=headers).get_json()["flows"] == []


def test_import_studio_flow_with_report_and_export_back(client, editor):
    import json
    from pathlib import Path

    studio = json.loads((Path(__file__).parents[1] / "fixtures/studio/ivr_main_menu.json").read_text())
    resp = client.post("/api/flows/import", json=studio, headers=editor[2])
    body = resp.get_json()
    assert resp.status_code == 201 and body["format"] == "studio"
    widgets = {s["name"] for s in studio["states"]}
    assert {r["widget"] for r in body["report"]} == widgets
    assert all(r["status"] in ("mapped", "partial", "unsupported") and r["detail"] is not None for r in body["report"])
    assert not [i for i in body["issues"] if i["severity"] == "error"]
    back = client.get(f"/api/flows/{body['id']}/export?format=studio", headers=editor[2]).get_json()
    assert back["initial_state"] == "Trigger"
    assert {s["name"] for s in back["states"]} == widgets


def _at_once(app, count: int, request) -> list:
    """Run `request(client, i)` from `count` threads at the same moment; their responses in order."""
    import threading

    barrier, results = threading.Barrier(count), [None] * count

    def worker(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[i] = request(client, i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_publishes_get_distinct_revision_numbers(app, client, editor, monkeypatch):
    import time

    _, _, headers = editor
    fid = _create(client, headers, template="main_menu")["id"]
    validate = svc.validate_flow

    def slow_validate(definition, org=None):  # widen the window between reading the next number and writing it
        time.sleep(0.3)
        return validate(definition, org)

    monkeypatch.setattr(svc, "validate_flow", slow_validate)
    results = _at_once(app, 3, lambda c, i: c.post(f"/api/flows/{fid}/publish", headers=headers))
    assert [r.status_code for r in results] == [200, 200, 200], [r.get_json() for r in results]
    # one draft, one revision: the publishes that waited for the lock find it already live
    assert [r.get_json()["revision"] for r in results] == [1, 1, 1]
    assert sorted(r.get_json()["published"] for r in results) == [False, False, True]
    assert db.session.query(FlowRevision).count() == 1


def test_publishing_an_unchanged_draft_makes_no_revision(client, editor):
    _, _, headers = editor
    flow = _create(client, headers)
    fid = flow["id"]
    assert client.post(f"/api/flows/{fid}/publish", headers=headers).get_json()["revision"] == 1
    moved = copy.deepcopy(flow["definition"])
    moved.setdefault("ui", {})["nodes"] = {moved["nodes"][0]["id"]: {"x": 500, "y": 300}}  # layout only
    client.put(f"/api/flows/{fid}", json={"definition": moved, "draft_version": 1}, headers=headers)
    again = client.post(f"/api/flows/{fid}/publish", json={"message": "again"}, headers=headers)
    assert again.status_code == 200
    assert again.get_json() == {
        "revision": 1,
        "published": False,
        "code": "nothing_to_publish",
        "message": "Nothing new to publish: the draft is the same as revision 1, which is live.",
    }
    revs = client.get(f"/api/flows/{fid}/revisions", headers=headers).get_json()["revisions"]
    assert [r["number"] for r in revs] == [1]


def test_concurrent_saves_of_one_version_keep_one_and_refuse_the_other(app, client, editor, monkeypatch):
    import threading

    _, _, headers = editor
    flow = _create(client, headers)
    both_loaded = threading.Barrier(2)
    check = svc.check_definition

    def check_after_both_loaded(definition):  # both requests have read version 1 by now
        both_loaded.wait(10)
        return check(definition)

    monkeypatch.setattr(svc, "check_definition", check_after_both_loaded)

    def save(c, i):
        mine = copy.deepcopy(flow["definition"])
        mine["nodes"][0]["name"] = f"Editor {i}"
        return c.put(f"/api/flows/{flow['id']}", json={"definition": mine, "draft_version": 1}, headers=headers)

    results = _at_once(app, 2, save)
    assert sorted(r.status_code for r in results) == [200, 409], [r.get_json() for r in results]
    winner = next(i for i, r in enumerate(results) if r.status_code == 200)
    db.session.expire_all()
    stored = db.session.get(Flow, flow["id"])
    assert stored.draft_version == 2 and stored.draft["nodes"][0]["name"] == f"Editor {winner}"


def test_listing_flows_takes_a_constant_number_of_queries(client, editor, app):
    from sqlalchemy import event

    from models import PhoneNumber

    org, _, headers = editor

    def count_list_queries():
        seen = []

        def before(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            body = client.get("/api/flows", headers=headers).get_json()
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
        return len(seen), body

    for i in range(2):
        flow = _create(client, headers, name=f"F{i}")
        client.post(f"/api/flows/{flow['id']}/publish", headers=headers)
    few, _ = count_list_queries()
    for i in range(2, 8):
        flow = _create(client, headers, name=f"F{i}")
        client.post(f"/api/flows/{flow['id']}/publish", headers=headers)
        db.session.add(PhoneNumber(org_id=org.id, phone_number=f"+1415555010{i}", mode="ivr", flow_id=flow["id"]))
    db.session.commit()
    many, body = count_list_queries()
    assert many == few, f"{few} queries for 2 flows but {many} for 8"
    assert sorted(n for f in body["flows"] for n in f["numbers"]) == [f"+1415555010{i}" for i in range(2, 8)]


def test_node_type_catalog(client, editor):
    body = client.get("/api/flows/node-types", headers=editor[2]).get_json()
    types = {t["type"]: t for t in body["types"]}
    assert {
        "menu",
        "collect_input",
        "record",
        "pay",
        "say",
        "branch",
        "set_variables",
        "business_hours",
        "transfer",
        "enqueue",
        "http_request",
        "send_message",
        "wait_for_reply",
        "subflow",
        "voicemail",
        "ai_agent",
        "hangup",
    } <= set(types)
    assert any(f["name"] == "options" for f in types["menu"]["fields"])


def test_names_over_the_limit_are_refused_whole(client, editor):
    _, _, headers = editor
    long_name = "Support line " * 15 + "x" * 6  # 201 characters
    assert len(long_name) == 201
    resp = client.post("/api/flows", json={"name": long_name}, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"] == "The flow name is 201 characters; the limit is 200. Shorten it."
    assert db.session.query(Flow).count() == 0
    assert client.post("/api/flows", json={"name": long_name[:200]}, headers=headers).status_code == 201


def test_a_made_up_name_is_shortened_at_a_word_with_an_ellipsis():
    words = "Customer support for the whole northern region " * 6
    short = svc.shorten(words, 200)
    assert len(short) <= 200 and short.endswith("…") and words.startswith(short[:-1])
    assert short[-2] != " " and words[len(short) - 1] == " "  # cut between words, not inside one
    assert svc.shorten("Front desk", 200) == "Front desk"


def test_the_text_conversation_starter_serves_texts_and_validates_clean(client, editor):
    _, _, headers = editor
    created = _create(client, headers, template="text_line")
    assert created["definition"]["settings"]["channels"] == ["messaging"] and created["channels"] == ["messaging"]
    assert client.get(f"/api/flows/{created['id']}", headers=headers).get_json()["issues"] == []
