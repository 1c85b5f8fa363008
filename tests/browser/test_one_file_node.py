"""The canvas draws a node type it has never heard of (tests/fixtures/throwaway_node.py) from
the catalog alone: palette item, icon, card summary, starter props, form and ports."""

from __future__ import annotations

from tests.browser.test_designer import acme, card, js, open_designer, stored_draft, wait_saved
from tests.designer.test_one_file_node import TYPE, stamp, stamped_flow
from tests.plugins.browser import login
from tests.plugins.factories import PASSWORD

__all__ = ["acme", "stamp"]  # fixtures used below


def test_the_canvas_draws_a_one_file_node_from_the_catalog(page, live_server, acme, stamp):
    from extensions import db
    from services import flow_revisions as svc

    flow = acme["blank"]
    svc.save_draft(acme["org"], acme["erin"], flow, stamped_flow(), flow.draft_version)
    db.session.commit()
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, flow.id)
    assert card(page, "stamp").locator(".nc-type").text_content() == "Stamp"
    assert card(page, "stamp").locator(".nc-text").text_content() == "Stamp vip {{ call.from }}"
    assert card(page, "stamp").locator("use").get_attribute("href").endswith("#i-flag")
    assert card(page, "hello").locator(".nc-text").text_content() == "Stamped {{ widgets.stamp.label }}."
    assert card(page, "bye").locator(".nc-text").text_content() == "Ends the call"  # built-ins: same summaries
    assert card(page, "stamp").locator(".port").evaluate_all("ps => ps.map(p => p.dataset.outcome)") == ["next"]

    page.click("#tab-add")
    page.locator(f".palette-item[data-type={TYPE}]").click()  # its own "Testing" group, below the others
    new_id = TYPE  # a new node is named after its type
    card(page, new_id).wait_for()
    assert card(page, new_id).locator(".nc-text").text_content() == "Not stamped yet"
    assert js(page, f"d.model.node('{new_id}').props") == {"label": ""}
    page.wait_for_selector(f"#node-form form[data-node-id={new_id}]")
    page.fill("#node-form textarea[name='f.label'], #node-form input[name='f.label']", "gold")
    page.wait_for_function(
        f"() => document.querySelector(\".node-card[data-id={new_id}] .nc-text\").textContent === 'Stamp gold'"
    )
    wait_saved(page)
    node = next(n for n in stored_draft(flow.id)["nodes"] if n["id"] == new_id)
    assert node["type"] == TYPE and node["props"] == {"label": "gold"}
    assert not page.js_errors
