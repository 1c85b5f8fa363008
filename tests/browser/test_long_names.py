"""Names at their limits in a real browser: flow (200), node (200) and number (64) names never break a page.

Each page is measured from its own geometry: nothing wider than the viewport, the long name cut with an
ellipsis inside its box, and the whole name on hover (the title attribute).
"""

from __future__ import annotations

from tests.plugins.browser import login, seed_admin, shot
from tests.plugins.factories import PASSWORD

FLOW_NAME = ("Customer support and billing line for the northern region " * 4)[:199] + "Z"  # 200 characters
NODE_NAME = ("Ask whether the caller wants to hear the opening hours again " * 4)[:199] + "Q"
NUMBER_NAME = ("Front desk main line for walk-in customers " * 2)[:63] + "N"  # 64: Twilio's limit


def _fits(page) -> None:
    """Nothing on the page is wider than the viewport (no sideways scrolling)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def _cut(page, selector: str, full: str) -> None:
    """The element shows the name cut with an ellipsis inside its box, and the whole name on hover."""
    el = page.locator(selector).first
    assert el.get_attribute("title") == full
    box = el.evaluate("e => ({sw: e.scrollWidth, cw: e.clientWidth, h: e.getBoundingClientRect().height,"
                      " overflow: getComputedStyle(e).textOverflow, lines: getComputedStyle(e).whiteSpace})")
    assert box["overflow"] == "ellipsis" and box["sw"] > box["cw"], box  # cut, and marked as cut
    assert box["h"] < 40, box  # one line, not a wall of text


def test_names_at_their_limits_keep_every_page_in_shape(page, live_server):
    from extensions import db
    from models import CallSession, PhoneNumber
    from services import flow_revisions as svc

    assert (len(FLOW_NAME), len(NODE_NAME), len(NUMBER_NAME)) == (200, 200, 64)
    org, alice = seed_admin("acme", "Acme Corp", "alice@example.com", PASSWORD)
    flow = svc.create_flow(org, alice, FLOW_NAME, template="main_menu")
    draft = dict(flow.draft)
    draft["nodes"] = [dict(n, name=NODE_NAME) if n["id"] == "main" else n for n in draft["nodes"]]
    svc.save_draft(org, alice, flow, draft, flow.draft_version)
    phone = PhoneNumber(org_id=org.id, phone_number="+14155550100", friendly_name=NUMBER_NAME, mode="ivr",
                        flow_id=flow.id, sync_status="ok")
    db.session.add(phone)
    db.session.flush()
    db.session.add(CallSession(org_id=org.id, call_sid="CA" + "1" * 32, phone_number_id=phone.id, flow_id=flow.id,
                               from_number="+14155550111", to_number=phone.phone_number, status="completed"))
    db.session.commit()
    login(page, live_server, "alice@example.com", PASSWORD)

    page.goto(live_server.url + "/flows/")
    _fits(page)
    _cut(page, "#flows .flow-name", FLOW_NAME)
    shot(page, "long-names-flows")

    page.goto(live_server.url + "/numbers")
    _fits(page)
    _cut(page, "#numbers .flow-cell a", FLOW_NAME)
    _cut(page, "#numbers .number-name", NUMBER_NAME)
    shot(page, "long-names-numbers")

    page.goto(live_server.url + "/calls/")
    _fits(page)
    _cut(page, "#call-list .flow-name", FLOW_NAME)
    _cut(page, "#call-list .number-name", NUMBER_NAME)
    shot(page, "long-names-calls")

    page.goto(live_server.url + f"/flows/{flow.id}")
    page.wait_for_selector(".node-card[data-id='main']")
    _fits(page)
    _cut(page, ".dz-title h1", FLOW_NAME)
    card = page.locator(".node-card[data-id='main']")
    card_name = card.locator(".nc-name")
    card_box, name_box = card.bounding_box(), card_name.bounding_box()
    assert name_box["x"] + name_box["width"] <= card_box["x"] + card_box["width"] + 1  # the name stays in its card
    card_name.hover()
    assert card_name.get_attribute("title") == NODE_NAME
    card.click()
    page.wait_for_selector("#node-form form[data-node-id=main]")
    _fits(page)
    shot(page, "long-names-designer")
    assert not page.js_errors


def test_names_over_their_limits_are_refused_not_cut(page, live_server):
    from extensions import db
    from models import Flow
    from services import flow_revisions as svc

    org, alice = seed_admin("acme", "Acme Corp", "alice@example.com", PASSWORD)
    flow = svc.create_flow(org, alice, "Front desk", template="main_menu")
    db.session.commit()
    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + f"/flows/{flow.id}")
    page.locator(".node-card[data-id='main']").click()
    page.wait_for_selector("#node-form form[data-node-id=main]")
    name = page.locator("#nf-name")
    assert name.get_attribute("maxlength") == "200"  # the form stops typing at the limit
    name.evaluate("(e, v) => { e.removeAttribute('maxlength'); e.value = v; e.dispatchEvent(new Event('input', "
                  "{bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); }", NODE_NAME + "X")
    problem = page.locator("#node-form").get_by_text("The name is 201 characters; the limit is 200. Shorten it.")
    problem.wait_for()
    shot(page, "long-names-node-refused")
    db.session.expire_all()
    stored = next(n for n in db.session.get(Flow, flow.id).draft["nodes"] if n["id"] == "main")["name"]
    assert stored in ("Main menu", NODE_NAME + "X")  # kept whole (an error to fix), never cut to 200
    assert not page.js_errors
