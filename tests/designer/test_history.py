"""Publishing, revision history with diffs, rollback, and test users from the designer."""

import copy
import json

from extensions import db
from models import Flow
from services import flow_revisions as svc


def _save(acme, mutate, user=None):
    flow = svc.get_flow(acme["org"], acme["flow"].id)
    definition = copy.deepcopy(flow.draft)
    mutate(definition)
    svc.save_draft(acme["org"], user or acme["editor"], flow, definition, flow.draft_version)
    db.session.commit()


def test_publish_then_history_shows_who_when_message_and_changes(ed, acme):
    fid = acme["flow"].id
    resp = ed.htmx(f"/flows/{fid}/publish", {"message": "First version"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Revision 1 is live." in html
    assert json.loads(resp.headers["HX-Trigger"])["flow-state"] == {"published": 1, "unpublished": False}
    assert "First version" in html and "ed@example.com" in html and "first revision, 7 nodes" in html

    def change(d):
        d["nodes"] = [n for n in d["nodes"] if n["id"] != "sales"]
        d["nodes"][1]["outcomes"]["1"] = "voicemail"
        d["nodes"][0]["name"] = "Open?"

    _save(acme, change)
    html = ed.get(f"/flows/{fid}/history").get_data(as_text=True)
    assert "Draft has unpublished changes" in html and "1 removed, 2 changed" in html
    html = ed.htmx(f"/flows/{fid}/publish", {"message": "Drop sales"}).get_data(as_text=True)
    assert (
        "Revision 2 is live." in html and "− Sales <code>sales</code>" in html and "~ Open? <code>hours</code>" in html
    )
    assert html.index("r2") < html.index("r1")  # newest first


def test_publishing_the_live_draft_again_says_nothing_is_new(ed, acme):
    fid = acme["flow"].id
    ed.htmx(f"/flows/{fid}/publish", {"message": "one"})
    resp = ed.htmx(f"/flows/{fid}/publish", {"message": "same again"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Nothing new to publish: the draft is the same as revision 1, which is live." in html
    assert "same again" not in html and 'data-revision="2"' not in html
    db.session.expire_all()
    assert db.session.get(Flow, fid).published_revision.number == 1


def test_publishing_a_flow_with_errors_is_refused(ed, acme):
    _save(acme, lambda d: d["nodes"][1]["props"].pop("prompt"))
    resp = ed.htmx(f"/flows/{acme['flow'].id}/publish", {"message": "broken"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "was not published" in html and "Prompt is required." in html
    assert 'data-goto-node="main"' in html
    db.session.expire_all()
    assert db.session.get(Flow, acme["flow"].id).published_revision_id is None


def test_rollback_makes_an_old_revision_live_and_offers_to_load_it(ed, acme):
    fid = acme["flow"].id
    ed.htmx(f"/flows/{fid}/publish", {"message": "one"})
    _save(acme, lambda d: d["nodes"][0].update(name="Changed"))
    ed.htmx(f"/flows/{fid}/publish", {"message": "two"})
    resp = ed.htmx(f"/flows/{fid}/revisions/1/rollback")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "revision 3 is a copy of revision 1" in html
    assert 'data-restore="1"' in html and "Rollback to revision 1" in html
    db.session.expire_all()
    flow = db.session.get(Flow, fid)
    assert flow.published_revision.number == 3 and flow.published_revision.definition["nodes"][0]["name"] == "Open now?"
    assert flow.draft["nodes"][0]["name"] == "Changed"  # the draft is left alone
    body = ed.get(f"/flows/{fid}/revisions/1/definition").get_json()
    assert body["number"] == 1 and body["definition"]["nodes"][0]["name"] == "Open now?"
    assert ed.htmx(f"/flows/{fid}/revisions/9/rollback").status_code == 404
    assert ed.get(f"/flows/{fid}/revisions/9/definition").status_code == 404


def test_test_users_are_saved_in_e164_and_bad_numbers_explained(ed, acme):
    fid = acme["flow"].id
    resp = ed.htmx(f"/flows/{fid}/test-users", {"numbers": "+1 415 555 0100\n(415) 555-0101, +14155550100"})
    assert resp.status_code == 200 and "Test users saved." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Flow, fid).test_users == ["+14155550100", "+14155550101"]
    resp = ed.htmx(f"/flows/{fid}/test-users", {"numbers": "call me maybe"})
    assert resp.status_code == 400 and "is not a phone number" in resp.get_data(as_text=True)


def test_viewers_see_history_but_cannot_publish_roll_back_or_set_test_users(vi, acme):
    fid = acme["flow"].id
    assert vi.get(f"/flows/{fid}/history").status_code == 200
    assert vi.htmx(f"/flows/{fid}/publish").status_code == 403
    assert vi.htmx(f"/flows/{fid}/revisions/1/rollback").status_code == 403
    assert vi.htmx(f"/flows/{fid}/test-users", {"numbers": "+14155550100"}).status_code == 403


def test_other_orgs_history_is_not_found(ed, other_flow):
    assert ed.get(f"/flows/{other_flow.id}/history").status_code == 404
    assert ed.htmx(f"/flows/{other_flow.id}/publish").status_code == 404
