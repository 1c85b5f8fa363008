"""The flows list page: create, duplicate, rename, archive, import, export, state and numbers."""

import json
from pathlib import Path

from extensions import db
from models import Flow, PhoneNumber
from services import flow_revisions as svc

STUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "studio"


def fresh(flow_id: int) -> Flow:
    """The flow as the database has it now (requests commit in their own session)."""
    db.session.expire_all()
    return db.session.get(Flow, flow_id)


def test_list_shows_state_numbers_and_actions(ed, acme):
    flow = acme["flow"]
    db.session.add(PhoneNumber(org_id=acme["org"].id, phone_number="+14155550100", mode="ivr", flow_id=flow.id))
    db.session.commit()
    html = ed.get("/flows/").get_data(as_text=True)
    assert "Support line" in html and "+14155550100" in html
    assert "Draft only" in html and "New flow" in html and "Import" in html
    svc.publish(acme["org"], acme["editor"], svc.get_flow(acme["org"], flow.id), "first")
    db.session.commit()
    html = ed.get("/flows/").get_data(as_text=True)
    assert "Published · r1" in html and "Unpublished changes" not in html
    draft = json.loads(json.dumps(flow.draft))
    draft["nodes"][0]["name"] = "Changed"
    svc.save_draft(acme["org"], acme["editor"], svc.get_flow(acme["org"], flow.id), draft, flow.draft_version)
    db.session.commit()
    assert "Unpublished changes" in ed.get("/flows/").get_data(as_text=True)


def test_moving_nodes_only_is_not_an_unpublished_change(ed, acme):
    flow = svc.get_flow(acme["org"], acme["flow"].id)
    svc.publish(acme["org"], acme["editor"], flow)
    draft = json.loads(json.dumps(flow.draft))
    draft["ui"]["nodes"]["hours"] = {"x": 999, "y": 999}
    svc.save_draft(acme["org"], acme["editor"], flow, draft, flow.draft_version)
    db.session.commit()
    assert "Unpublished changes" not in ed.get("/flows/").get_data(as_text=True)


def test_create_from_template_opens_the_designer(ed, acme):
    resp = ed.htmx("/flows/", {"name": "Payments", "template": "payment_line"})
    assert resp.status_code == 201
    db.session.expire_all()
    flow = db.session.scalar(db.select(Flow).where(Flow.name == "Payments"))
    assert resp.headers["HX-Redirect"] == f"/flows/{flow.id}"
    assert flow.draft["start"] == "account"
    plain = ed.post("/flows/", data={"name": "Blank one", "template": "blank"})
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/flows/")
    assert ed.htmx("/flows/", {"name": "Texts", "template": "text_line"}).status_code == 201
    listing = ed.get("/flows/").get_data(as_text=True)
    assert "Text conversation</strong>" in listing  # the starter offered in the New flow dialog
    texts_row = listing[listing.index(">Texts</a>"):].split("</tr>")[0]
    assert 'title="The channels this flow serves">Texts</span>' in texts_row
    assert "The channels this flow serves" not in listing[listing.index(">Payments</a>"):].split("</tr>")[0]


def test_create_with_bad_input_says_what_is_wrong(ed, acme):
    resp = ed.htmx("/flows/", {"name": "  ", "template": "blank"}, headers={"HX-Target": "flows"})
    assert resp.status_code == 400 and "A flow needs a name." in resp.get_data(as_text=True)
    resp = ed.htmx("/flows/", {"name": "X", "template": "nope"}, headers={"HX-Target": "flows"})
    assert resp.status_code == 400 and "Unknown template" in resp.get_data(as_text=True)


def test_create_error_is_shown_inside_the_new_flow_dialog(ed, acme):
    page = ed.get("/flows/").get_data(as_text=True)
    assert '<div id="new-flow-error"' in page
    resp = ed.htmx("/flows/", {"name": "  ", "template": "blank"}, headers={"HX-Target": "flows"})
    assert resp.status_code == 400
    assert resp.headers["HX-Retarget"] == "#new-flow-error" and resp.headers["HX-Reswap"] == "innerHTML"
    body = resp.get_data(as_text=True)
    assert 'role="alert"' in body and "A flow needs a name." in body and "<table" not in body


def test_duplicate_rename_archive_restore(ed, acme):
    fid = acme["flow"].id
    resp = ed.htmx(f"/flows/{fid}/duplicate", headers={"HX-Target": "flows"})
    assert resp.status_code == 200 and "Support line (copy)" in resp.get_data(as_text=True)
    assert 'id="flows"' in resp.get_data(as_text=True) and "<html" not in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/rename", {"name": "Front desk"}, headers={"HX-Target": "flows"})
    assert "“Support line” is now “Front desk”" in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/rename", {"name": ""}, headers={"HX-Target": "flows"})
    assert resp.status_code == 400 and "needs a name" in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/archive", headers={"HX-Target": "flows"})
    assert "was archived" in resp.get_data(as_text=True)
    assert fresh(fid).archived is True
    assert "Front desk</a>" not in ed.get("/flows/").get_data(as_text=True)
    assert "Front desk</a>" in ed.get("/flows/?archived=1").get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/archive", {"restore": "1"}, headers={"HX-Target": "flows"})
    assert "was restored" in resp.get_data(as_text=True) and fresh(fid).archived is False


def test_a_flow_in_use_cannot_be_archived(ed, acme):
    fid = acme["flow"].id
    db.session.add(PhoneNumber(org_id=acme["org"].id, phone_number="+14155550111", mode="ivr", flow_id=fid))
    db.session.commit()
    resp = ed.htmx(f"/flows/{fid}/archive", headers={"HX-Target": "flows"})
    assert resp.status_code == 400 and "+14155550111 still route to this flow" in resp.get_data(as_text=True)


def test_import_studio_shows_the_widget_report(ed, acme):
    raw = (STUDIO / "ivr_main_menu.json").read_text()
    resp = ed.htmx("/flows/import", {"definition": raw, "name": "From Studio"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 201, html
    assert "Twilio Studio" in html and "widgets mapped" in html and "import-report" in html
    db.session.expire_all()
    flow = db.session.scalar(db.select(Flow).where(Flow.name == "From Studio"))
    assert flow is not None and flow.draft["spec"] == "phonetree/1"
    assert f"/flows/{flow.id}" in html


def test_import_phonetree_json_from_a_file(ed, acme):
    from io import BytesIO

    body = json.dumps(acme["flow"].draft).encode()
    resp = ed.post(
        "/flows/import",
        data={"file": (BytesIO(body), "flow.json"), "name": "Copied"},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 201 and "Phonetree JSON" in resp.get_data(as_text=True)


def test_import_rejects_bad_input_with_a_message(ed, acme):
    resp = ed.htmx("/flows/import", {"definition": ""})
    assert resp.status_code == 400 and "Paste a flow definition" in resp.get_data(as_text=True)
    resp = ed.htmx("/flows/import", {"definition": "{not json"})
    assert resp.status_code == 400 and "not valid JSON" in resp.get_data(as_text=True)
    resp = ed.htmx("/flows/import", {"definition": json.dumps({"spec": "phonetree/1", "nodes": "nope"})})
    assert resp.status_code == 400 and "nodes must be a list" in resp.get_data(as_text=True)


def test_export_both_formats_as_downloads(ed, acme):
    fid = acme["flow"].id
    resp = ed.get(f"/flows/{fid}/export?format=phonetree")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert "support-line-draft.phonetree.json" in resp.headers["Content-Disposition"]
    assert resp.get_json()["start"] == "hours"
    resp = ed.get(f"/flows/{fid}/export?format=studio")
    assert resp.status_code == 200 and resp.get_json()["initial_state"] == "Trigger"
    assert ed.get(f"/flows/{fid}/export?format=xml").status_code == 400
    assert ed.get(f"/flows/{fid}/export?revision=9").status_code == 404
    svc.publish(acme["org"], acme["editor"], svc.get_flow(acme["org"], fid))
    db.session.commit()
    resp = ed.get(f"/flows/{fid}/export?format=phonetree&revision=1")
    assert "support-line-r1" in resp.headers["Content-Disposition"]


def test_viewer_sees_the_list_but_cannot_change_it(vi, acme):
    fid = acme["flow"].id
    html = vi.get("/flows/").get_data(as_text=True)
    assert "Support line" in html and "New flow" not in html
    for path in (
        "/flows/",
        f"/flows/{fid}/duplicate",
        f"/flows/{fid}/rename",
        f"/flows/{fid}/archive",
        "/flows/import",
    ):
        assert vi.htmx(path, {"name": "x"}).status_code == 403, path
    assert vi.get(f"/flows/{fid}/export").status_code == 200


def test_another_orgs_flow_is_not_found(ed, other_flow):
    for path in (f"/flows/{other_flow.id}/duplicate", f"/flows/{other_flow.id}/archive"):
        assert ed.htmx(path).status_code == 404
    assert ed.get(f"/flows/{other_flow.id}/export").status_code == 404
    assert ed.get(f"/flows/{other_flow.id}").status_code == 404


def test_signed_out_people_are_sent_to_sign_in(client, acme):
    resp = client.get("/flows/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_ids_too_large_to_exist_are_404_not_500(ed, acme):
    big = "9" * 20
    fid = acme["flow"].id
    for path in (f"/flows/{big}", f"/flows/{fid}/revisions/{big}", f"/flows/{fid}/export?revision={big}"):
        assert ed.get(path).status_code == 404, path
    assert ed.post(f"/flows/{big}/rename", data={"name": "x"}).status_code == 404


def test_the_list_takes_no_query_per_flow(ed, acme):
    from sqlalchemy import event

    def statements() -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert ed.get("/flows/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    few = statements()
    for i in range(5):
        svc.create_flow(acme["org"], acme["editor"], f"Line {i}", template="main_menu")
    db.session.commit()
    assert statements() == few
