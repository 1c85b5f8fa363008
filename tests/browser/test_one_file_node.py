"""The canvas draws a node type it has never heard of (tests/fixtures/throwaway_node.py) from
the catalog alone: palette item, icon, card summary, starter props, form and ports."""

from __future__ import annotations

from tests.browser.test_designer import acme, card, js, open_draft, stored_draft, wait_saved
from tests.designer.test_one_file_node import TYPE, stamp, stamped_flow
from tests.plugins.browser import shot

__all__ = ["acme", "stamp"]  # fixtures used below


def test_the_canvas_draws_a_one_file_node_from_the_catalog(page, live_server, acme, stamp):
    flow_id = open_draft(page, live_server, acme, stamped_flow())
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
    node = next(n for n in stored_draft(flow_id)["nodes"] if n["id"] == new_id)
    assert node["type"] == TYPE and node["props"] == {"label": "gold"}
    assert not page.js_errors


def text_flow() -> dict:
    """A text conversation: a menu whose prompt is a plain string, one with options only, hang-ups."""
    def node(node_id: str, type_: str, props: dict, **outcomes: str) -> dict:
        return {"id": node_id, "type": type_, "props": props, "outcomes": outcomes}

    nodes = [
        node("ask", "menu", {"prompt": "Reply 1 for sales", "options": [{"digit": "1"}]}, **{"1": "pick"}),
        node("pick", "menu", {"options": [{"digit": "1", "label": "Sales"}, {"digit": "2", "label": "Support"}]},
             **{"1": "bye", "2": "said"}),
        node("said", "hangup", {"say": "Thanks, we will text you back."}),
        node("map", "say", {"prompt": {"play": "https://example.com/map.png"}}),
        node("bye", "hangup", {}),
    ]
    return {"spec": "phonetree/1", "start": "ask", "settings": {"channels": ["messaging"]}, "nodes": nodes,
            "ui": {"nodes": {n["id"]: {"x": 40 + 300 * (i % 2), "y": 200 * (i // 2)} for i, n in enumerate(nodes)}}}


def test_card_summaries_on_a_text_flow_speak_of_the_conversation_and_never_go_blank(page, live_server, acme):
    open_draft(page, live_server, acme, text_flow())

    def summary(node_id: str) -> str:
        return card(page, node_id).locator(".nc-text").text_content()

    assert summary("ask") == "Reply 1 for sales"  # a prompt given as a plain string
    assert summary("pick") == "1 Sales · 2 Support"  # no prompt: the options
    assert summary("said") == "Thanks, we will text you back."
    assert summary("bye") == "Ends the conversation"
    assert card(page, "bye").locator(".nc-type").text_content() == "End conversation"  # no phone to hang up
    page.click("#tab-add")
    assert page.locator(".palette-item[data-type=hangup]").inner_text() == "End conversation"
    assert summary("map") == "Media https://example.com/map.png"  # sent as a picture, not played
    assert page.locator(".nc-text.blank").count() == 0
    shot(page, "designer-text-flow-summaries")

    page.click("#tab-flow")
    page.select_option("#settings-form select[name='f.channels']", "voice+messaging")
    page.wait_for_function("() => document.querySelector(\".node-card[data-id=bye] .nc-text\").textContent"
                           " === 'Ends the call or conversation'")
    assert summary("map") == "♪ https://example.com/map.png"
    assert card(page, "bye").locator(".nc-type").text_content() == "Hang up"
    assert page.locator(".palette-item[data-type=hangup]").inner_text() == "Hang up"
    page.select_option("#settings-form select[name='f.channels']", "voice")
    page.wait_for_function("() => document.querySelector(\".node-card[data-id=bye] .nc-text\").textContent"
                           " === 'Ends the call'")
    page.click("[data-cmd=undo]")  # one undo step for the settings edits: texts only, and their wording, again
    page.wait_for_function("() => document.querySelector(\".node-card[data-id=bye] .nc-text\").textContent"
                           " === 'Ends the conversation'")

    card(page, "ask").click()
    page.wait_for_selector("#node-form form[data-node-id=ask]")
    assert page.locator("#node-form textarea[name='f.prompt.text']").input_value() == "Reply 1 for sales"
    assert not page.js_errors
