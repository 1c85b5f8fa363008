"""Malformed bodies on every JSON endpoint: 400 ``invalid_request`` naming the field (or a JSON 413),
never a 5xx, and nothing changed in the database or on Twilio (SQLite and PostgreSQL: ``db``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from extensions import db
from models import Organization, PhoneNumber
from services import flow_revisions
from tests.plugins.upstream import twilio_config
from upstream.integrations import save_integration

JSON = {"Content-Type": "application/json"}

# Bodies no JSON endpoint may take: (raw bytes, the field the error must name or None for "any").
MALFORMED: dict[str, tuple[bytes, str | None]] = {
    "truncated": (b"{", ""),
    "null": (b"null", ""),
    "array": (b"[]", ""),
    "string": (b'"x"', ""),
    "number": (b"1", ""),
    "deep_arrays": (b"[" * 5000 + b"]" * 5000, None),
    "deep_objects": (b'{"a":' * 5000 + b"1" + b"}" * 5000, None),
    "nan": (b'{"name": NaN}', "name"),
    "infinity": (b'{"name": -Infinity}', "name"),
    "lone_surrogate": (b'"\\ud800"', ""),
    "surrogate_in_field": (b'{"name": "x\\ud800"}', "name"),
    "nul_in_field": (b'{"name": "x\\u0000y"}', "name"),
    "huge_integer": (b'{"revision": 1180591620717411303424}', "revision"),
    "huge_float": (b'{"revision": 1e400}', "revision"),
    "bad_utf8": (b'{"name": "\xff\xfe"}', ""),
}


@dataclass
class World:
    """An org connected to the Twilio stand-in: its admin (API and signed in), a published flow, a number."""

    client: Any
    headers: dict
    csrf: str
    fake: Any
    flow_id: int
    phone_id: int

    def snapshot(self) -> dict[str, list]:
        """Every row of every table (what "nothing changed" is checked against).

        The login throttle's counters are left out: a refused sign-in, malformed or not, counts
        against its client address by design (tests/security/test_throttling.py)."""
        db.session.expire_all()
        tables = {}
        for table in db.metadata.sorted_tables:
            if table.name == "rate_limit_counter":
                continue
            rows = db.session.execute(select(table)).all()
            tables[table.name] = sorted(repr(tuple(row)) for row in rows)
        return tables


@pytest.fixture
def world(app, client, make, twilio_fake) -> World:
    app.config.update(TWILIO_API_BASE_URL=twilio_fake.url, TWILIO_TIMEOUT_SECONDS=2)
    org = make.org("acme", "Acme Corp")
    admin = make.user("admin@acme.example", "admin", org)
    save_integration(org, "TwilioProvider", "Acme Twilio", twilio_config(twilio_fake), verify=False)
    flow = flow_revisions.create_flow(org, admin, "Main line", template="main_menu")
    flow_revisions.publish(org, admin, flow, "first")
    phone = PhoneNumber(org_id=org.id, phone_number="+15550001000", sid="PN" + "ab" * 16, friendly_name="Main",
                        mode="ivr", flow_id=flow.id, capabilities={})
    db.session.add(phone)
    db.session.commit()
    headers = make.api_headers(admin, org)
    assert make.login(admin.email).status_code == 302
    return World(client, headers, make.csrf("/flows/"), twilio_fake, flow.id, phone.id)


# (method, path with {flow}/{phone}, typed probes: body -> expected field)
API_ENDPOINTS: list[tuple[str, str, dict[str, str]]] = [
    ("POST", "/auth/token", {'{"email": 1, "password": "x"}': "email", '{"email": ["a"]}': "email"}),
    ("POST", "/api/flows", {
        '{"name": 123}': "name",
        '{"name": "ok", "description": {"x": 1}}': "description",
        '{"name": "ok", "definition": []}': "definition",
        '{"name": "ok", "bogus": 1}': "bogus",
    }),
    ("PUT", "/api/flows/{flow}", {
        '{"name": 123}': "name",
        '{"description": {"x": 1}}': "description",
        '{"definition": {"spec": "phonetree/1", "nodes": []}, "draft_version": true}': "draft_version",
        '{"definition": {"spec": "phonetree/1", "nodes": []}, "draft_version": "1"}': "draft_version",
        '{"definition": {"spec": "phonetree/1", "nodes": []}}': "draft_version",
        '{"test_users": "+15551234567"}': "test_users",
    }),
    ("POST", "/api/flows/{flow}/validate", {'{"definition": "x"}': "definition"}),
    ("POST", "/api/flows/{flow}/publish", {'{"message": 5}': "message"}),
    ("POST", "/api/flows/{flow}/rollback", {
        '{"revision": true}': "revision", '{"revision": "1"}': "revision", "{}": "revision",
        '{"revision": 0}': "revision", '{"revision": 99999999999}': "revision",
    }),
    ("POST", "/api/flows/{flow}/archive", {'{"archived": "no"}': "archived", '{"archived": 0}': "archived"}),
    ("POST", "/api/flows/import", {}),
    ("POST", "/upstream/save-integration", {'{"type": 5}': "type", '{"type": "TwilioProvider", "name": {}}': "name"}),
    ("POST", "/upstream/delete-integration", {'{"x": 1}': "x"}),
    ("POST", "/upstream/test/TwilioProvider/listPhoneNumbers", {'{"limit": [1]}': "limit"}),
    ("POST", "/phone/numbers", {
        '{"areaCode": {"x": 1}}': "areaCode", '{"areaCode": "415", "mode": 5}': "mode",
        '{"areaCode": "415", "routing": []}': "routing", '{"areaCode": "415", "routing": {"mode": 5}}': "routing.mode",
    }),
    ("POST", "/phone/numbers/add", {'{"sid": ["x"]}': "sid", '{"phoneNumber": 1.5}': "phoneNumber"}),
    ("POST", "/phone/numbers/{phone}/routing", {'{"mode": 5}': "mode", '{"flowId": true}': "flowId"}),
    ("POST", "/phone/numbers/{phone}/push", {'{"x": 1}': "x"}),
    ("POST", "/phone/numbers/{phone}/release", {'{"x": 1}': "x"}),
    ("DELETE", "/phone/numbers/{phone}", {'{"x": 1}': "x"}),
    ("POST", "/phone/token", {}),
    ("POST", "/phone/voice/register-device", {}),
    ("POST", "/phone/voice/unregister-device", {'{"x": 1}': "x"}),
]
DESIGNER_ENDPOINTS: list[tuple[str, dict[str, str]]] = [
    ("/flows/{flow}/draft", {
        '{"definition": {"spec": "phonetree/1", "nodes": []}, "draft_version": true}': "draft_version",
        '{"definition": [], "draft_version": 1}': "definition",
        '{"definition": {"spec": "phonetree/1", "nodes": []}, "draft_version": 1, "force": "yes"}': "force",
    }),
    ("/flows/{flow}/validate", {'{"definition": "x"}': "definition", "{}": "definition"}),
]


def _send(world: World, method: str, path: str, body: bytes, designer: bool = False):
    path = path.format(flow=world.flow_id, phone=world.phone_id)
    headers = {**JSON, "X-CSRFToken": world.csrf} if designer else {**JSON, **world.headers}
    return world.client.open(path, method=method, data=body, headers=headers)


def _assert_refused(resp, field: str | None, what: str) -> None:
    assert resp.status_code == 400, (what, resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, (what, resp.get_data(as_text=True)[:300])
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_request" and error["message"].strip(), (what, error)
    assert "field" in error, (what, error)
    if field is not None:
        assert error["field"] == field, (what, error)


@pytest.mark.parametrize(("method", "path", "typed"), API_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in API_ENDPOINTS])
def test_api_endpoints_refuse_malformed_bodies_and_change_nothing(world, method, path, typed):
    before, requests_before = world.snapshot(), len(world.fake.state.requests)
    for name, (body, field) in MALFORMED.items():
        _assert_refused(_send(world, method, path, body), field, f"{method} {path} {name}")
    for body, field in typed.items():
        _assert_refused(_send(world, method, path, body.encode()), field, f"{method} {path} {body}")
    assert world.snapshot() == before
    assert len(world.fake.state.requests) == requests_before  # Twilio was never asked


@pytest.mark.parametrize(("path", "typed"), DESIGNER_ENDPOINTS, ids=[p for p, _ in DESIGNER_ENDPOINTS])
def test_designer_json_routes_refuse_malformed_bodies_and_change_nothing(world, path, typed):
    before = world.snapshot()
    for name, (body, field) in MALFORMED.items():
        _assert_refused(_send(world, "POST", path, body, designer=True), field, f"{path} {name}")
    for body, field in typed.items():
        _assert_refused(_send(world, "POST", path, body.encode(), designer=True), field, f"{path} {body}")
    assert world.snapshot() == before


def test_archive_with_a_broken_body_does_not_archive(world):
    org = Organization.by_slug("acme")
    spare = flow_revisions.create_flow(org, None, "Spare")  # no number routes to it, so it may be archived
    db.session.commit()
    path = f"/api/flows/{spare.id}/archive"
    for body in (b"{", b"null", b"[]"):
        resp = _send(world, "POST", path, body)
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_request"
    db.session.expire_all()
    assert flow_revisions.get_flow(org, spare.id).archived is False
    assert _send(world, "POST", path, b"").get_json()["archived"] is True  # no body: archive
    assert _send(world, "POST", path, b'{"archived": false}').get_json()["archived"] is False


def test_good_bodies_still_work(world):
    flow = _send(world, "GET", "/api/flows/{flow}", b"").get_json()
    update = {"name": "Renamed", "description": "d", "definition": flow["definition"],
              "draft_version": flow["draft_version"]}
    resp = _send(world, "PUT", "/api/flows/{flow}", json.dumps(update).encode())
    assert resp.status_code == 200 and resp.get_json()["name"] == "Renamed"
    assert _send(world, "POST", "/api/flows/{flow}/rollback", b'{"revision": 1}').get_json()["revision"] == 2
    resp = _send(world, "POST", "/flows/{flow}/validate", json.dumps({"definition": flow["definition"]}).encode(),
                 designer=True)
    assert resp.status_code == 200 and "issues" in resp.get_json()


def test_an_oversized_body_is_a_json_413(world):
    big = json.dumps({"definition": {"spec": "phonetree/1", "nodes": [], "pad": "x" * (5 * 1024 * 1024)},
                      "draft_version": 1}).encode()
    before = world.snapshot()
    for method, path, designer in (("POST", "/flows/{flow}/draft", True), ("PUT", "/api/flows/{flow}", False),
                                   ("POST", "/api/flows/import", False)):
        resp = _send(world, method, path, big, designer=designer)
        assert resp.status_code == 413 and resp.is_json, (path, resp.get_data(as_text=True)[:200])
        assert resp.get_json()["error"]["code"] == "payload_too_large"
    assert world.snapshot() == before


def test_designer_form_fields_with_hostile_json_are_400_not_500(world):
    deep = "[" * 5000 + "]" * 5000
    before = world.snapshot()
    headers = {"X-CSRFToken": world.csrf, "HX-Request": "true"}
    for path, data in (
        ("/flows/import", {"definition": deep}),
        ("/flows/import", {"definition": '{"spec": "phonetree/1", "nodes": [], "x": NaN}'}),
        ("/flows/{flow}/node-form", {"node": deep}),
        ("/flows/{flow}/node-parse", {"node": '{"id": "\\ud800"}'}),
        ("/flows/{flow}/settings-parse", {"settings": deep}),
        ("/flows/{flow}/settings-form", {"settings": deep}),
    ):
        resp = world.client.post(path.format(flow=world.flow_id), data=data, headers=headers)
        assert resp.status_code == 400, (path, resp.status_code, resp.get_data(as_text=True)[:300])
    assert world.snapshot() == before


def test_page_errors_stay_html(world):
    resp = world.client.get("/flows/999999", headers={"Accept": "text/html"})
    assert resp.status_code == 404 and resp.mimetype == "text/html"


def test_login_next_with_crlf_is_no_500_and_no_header_injection(app, make):
    make.user("alice@example.com", "admin")
    token = make.csrf("/login")
    for target in ("/%0d%0aSet-Cookie:%20evil=1", "/flows/%0aLocation:%20http://evil.example", "/\\evil.example"):
        resp = make.client.post(f"/login?next={target}",
                                data={"email": "alice@example.com", "password": "wrong", "csrf_token": token})
        assert resp.status_code == 401
        resp = make.client.post(f"/login?next={target}", data={
            "email": "alice@example.com", "password": "correct-horse-battery", "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
        location = resp.headers["Location"]
        assert "\r" not in location and "\n" not in location and "evil" not in location
        assert not any("evil" in c for c in resp.headers.getlist("Set-Cookie"))
        make.client.post("/logout", headers={"X-CSRFToken": make.csrf("/flows/")})
        token = make.csrf("/login")
        assert re.fullmatch(r"[\w.-]+", token.replace("#", ""))
