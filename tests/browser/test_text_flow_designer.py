"""A text-only flow in the designer: a palette grouped for texts, forms in a conversation's words,
durations and opt-out keywords explained, and how a request starts it."""

from __future__ import annotations

from tests.browser.test_designer import acme, card, open_draft
from tests.plugins.browser import shot

__all__ = ["acme"]  # fixture used below


def conversation() -> dict:
    """A text flow: a menu whose option 2 answers to CANCEL, a question waited for 8 days, a text."""
    def node(node_id: str, type_: str, props: dict, **outcomes: str) -> dict:
        return {"id": node_id, "type": type_, "props": props, "outcomes": outcomes}

    nodes = [
        node("ask", "menu", {"prompt": "Reply 1 to order, 2 to cancel",
                             "options": [{"digit": "1", "label": "Order", "keywords": ["order"]},
                                         {"digit": "2", "label": "Cancel", "keywords": ["cancel"]}]},
             **{"1": "order", "2": "bye", "fallback": "bye"}),
        node("order", "wait_for_reply", {"prompt": "What would you like?", "timeout": 700000},
             replied="confirm", timeout="bye", failed="bye"),
        node("confirm", "send_message", {"body": "Got it: {{ widgets.order.inbound.Body }}"}, sent="bye", failed="bye"),
        node("bye", "hangup", {"say": "Thanks!"}),
    ]
    places = {n["id"]: {"x": 40 + 320 * (i % 2), "y": 40 + 220 * (i // 2)} for i, n in enumerate(nodes)}
    return {"spec": "phonetree/1", "start": "ask", "settings": {"channels": ["messaging"]}, "nodes": nodes,
            "ui": {"nodes": places}}


def groups(page) -> dict[str, list[str]]:
    """The palette's shown groups and the names of their items, in order."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.palette-group')]
        .filter((g) => !g.hidden)
        .map((g) => [g.dataset.category, [...g.querySelectorAll('.palette-item span')].map((s) => s.textContent)]))""")


def test_a_text_flows_palette_groups_what_texts_under_messages_and_regroups_with_the_channels(page, live_server, acme):
    open_draft(page, live_server, acme, conversation())
    page.click("#tab-add")
    shown = groups(page)
    assert list(shown)[:2] == ["Messages", "Voice"]
    assert shown["Messages"] == ["End conversation", "Send text", "Send message"]
    assert shown["Voice"] == ["Record", "Voicemail"]  # voice only, greyed
    assert page.locator(".palette-group[data-category=Voice] .palette-item.off-channel").count() == 2
    assert "Send message" not in shown["Integrations"]
    shot(page, "designer-text-flow-palette")
    page.click(".palette-item[data-type=say]")  # Send text: its form speaks of a message, not of a voice
    page.wait_for_selector("#node-form form[data-node-id=say]")
    assert page.locator("#node-form .nf-type").inner_text() == "Send text"
    assert page.locator("#node-form [data-field=prompt] .nf-label").text_content().startswith("Message")
    assert page.locator("#node-form [data-field=loop]").is_hidden()
    assert page.locator(".node-card[data-id=say] .nc-type").text_content() == "Send text"
    assert page.input_value("#node-form input[name=name]") == "Send text"  # named as the palette names it
    shot(page, "designer-text-flow-send-text-form")
    page.click("#tab-add")

    page.click("#tab-flow")
    page.select_option("#settings-form select[name='f.channels']", "voice")
    page.wait_for_function("() => document.querySelector('.palette-group[data-category=Messages]').hidden")
    shown = groups(page)
    assert "Messages" not in shown and shown["Voice"] == ["Hang up", "Record", "Say / Play", "Voicemail"]
    assert "Send message" in shown["Integrations"]
    page.click("[data-cmd=undo]")
    page.wait_for_function("() => !document.querySelector('.palette-group[data-category=Messages]').hidden")
    assert groups(page)["Messages"] == ["End conversation", "Send text", "Send message"]
    assert not page.js_errors


def test_a_text_flows_forms_speak_of_the_conversation(page, live_server, acme):
    open_draft(page, live_server, acme, conversation())

    card(page, "ask").click()  # the start: a request texts `to` first
    page.wait_for_selector("#node-form form[data-node-id=ask]")
    page.click("#node-form .nf-request summary")
    help_text = page.locator("#node-form .nf-request p").inner_text()
    assert "It texts to first; the replies continue the conversation." in help_text
    assert "places a call" not in help_text and "call" not in help_text.replace("calls", "")
    warning = page.locator("#node-form [data-field=options] .nf-error").inner_text()
    assert "'cancel' is one of Twilio's opt-out words: a contact who replies CANCEL is unsubscribed" in warning
    shot(page, "designer-text-flow-request-start")
    page.locator("#node-form [data-field=options]").scroll_into_view_if_needed()
    shot(page, "designer-text-flow-opt-out-keyword")

    card(page, "order").click()
    page.wait_for_selector("#node-form form[data-node-id=order]")
    error = page.locator("#node-form [data-field=timeout] .nf-error").inner_text()
    assert error == "Wait (seconds) must be between 1 second and 7 days (604800 s)."
    page.locator("#node-form [data-field=timeout]").scroll_into_view_if_needed()
    shot(page, "designer-text-flow-wait-timeout")

    card(page, "confirm").click()
    page.wait_for_selector("#node-form form[data-node-id=confirm]")
    assert page.get_attribute("#node-form input[name='f.to']", "placeholder") == "the contact"
    assert page.get_attribute("#node-form input[name='f.from']", "placeholder") == "this number"
    page.locator("#node-form [data-field=to]").scroll_into_view_if_needed()
    shot(page, "designer-text-flow-send-message-senders")
    chips = page.locator("#node-form .nf-scope .chip").evaluate_all("cs => cs.map((c) => c.dataset.insert)")
    assert chips[:3] == ["trigger.message.Body", "trigger.message.From", "trigger.message.To"]
    assert not [c for c in chips if c.startswith("call.")] and "widgets.order.inbound.Body" in chips
    page.locator("#node-form textarea[name='f.body']").focus()
    page.locator("#node-form .chip[data-insert='trigger.message.From']").click()
    assert page.input_value("#node-form textarea[name='f.body']") == (
        "{{ trigger.message.From }}Got it: {{ widgets.order.inbound.Body }}")  # at the caret
    page.locator("#node-form .nf-scope").scroll_into_view_if_needed()
    shot(page, "designer-text-flow-send-message-form")
    assert not page.js_errors
