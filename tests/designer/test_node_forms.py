"""Node property forms: rendered from the catalog's fields, parsed back into typed props."""

import json
import re

from werkzeug.datastructures import MultiDict

from flows import node_type_catalog
from tests.engine.helpers import channel_branch
from web.node_forms import apply_row_action, catalog_type, parse_node


def _menu(acme):
    return next(n for n in acme["flow"].draft["nodes"] if n["id"] == "main")


def _form(vi_or_ed, acme, node, **extra):
    data = {"node": json.dumps(node), "definition": json.dumps(acme["flow"].draft), **extra}
    return vi_or_ed.htmx(f"/flows/{acme['flow'].id}/node-form", data)


def test_menu_form_has_every_field_connections_and_template_help(ed, acme):
    resp = _form(ed, acme, _menu(acme))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for name in (
        "f.prompt.text",
        "f.options.0.digit",
        "f.options.1.label",
        "f.timeout",
        "f.retries",
        "f.invalid_prompt.text",
        "f.no_input_prompt.text",
        "f.speech_language",
    ):
        assert f'name="{name}"' in html, name
    assert 'data-outcome="fallback"' in html and 'data-outcome="1"' in html
    assert "Make start" in html and "widgets.hours.status" in html and "call.from" in html


def test_template_help_lists_variables_set_upstream(ed, acme):
    thanks = next(n for n in acme["flow"].draft["nodes"] if n["id"] == "thanks")
    html = _form(ed, acme, thanks).get_data(as_text=True)
    assert 'data-insert="vars.ticket"' in html and "widgets.support.value" in html
    start = next(n for n in acme["flow"].draft["nodes"] if n["id"] == "hours")
    html = _form(ed, acme, start).get_data(as_text=True)
    assert "vars.ticket" not in html and "Start</span>" in html


def test_form_shows_inline_errors_from_the_engine(ed, acme):
    node = _menu(acme)
    node["props"]["timeout"] = 500
    definition = json.loads(json.dumps(acme["flow"].draft))
    definition["nodes"][1] = node
    resp = ed.htmx(
        f"/flows/{acme['flow'].id}/node-form", {"node": json.dumps(node), "definition": json.dumps(definition)}
    )
    html = resp.get_data(as_text=True)
    assert 'class="nf-error"' in html and "must be between 1 and 60" in html and "aria-invalid=true" in html


def test_viewer_form_is_disabled_and_cannot_parse(vi, acme):
    html = _form(vi, acme, _menu(acme)).get_data(as_text=True)
    assert '<fieldset class="stack-tight" disabled>' in html and "Make start" not in html
    resp = vi.htmx(f"/flows/{acme['flow'].id}/node-parse", {"node": json.dumps(_menu(acme))})
    assert resp.status_code == 403


def test_parse_types_every_kind(ed, acme):
    node = {"id": "hrs", "type": "business_hours", "name": "Hours", "props": {}, "outcomes": {}}
    form = {
        "node": json.dumps(node),
        "name": "Office hours",
        "f.timezone": "Europe/Paris",
        "f.hours.mon": "09:00-12:00, 13:00-17:30",
        "f.hours.tue": "9:00-17:00",
        "f.hours.sat": "",
        "f.holidays": "2025-12-25 Christmas\n2026-01-01",
    }
    body = ed.htmx(f"/flows/{acme['flow'].id}/node-parse", form).get_json()
    props = body["node"]["props"]
    assert body["node"]["name"] == "Office hours" and props["timezone"] == "Europe/Paris"
    assert props["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]] and props["hours"]["tue"] == [
        ["09:00", "17:00"]
    ]
    assert props["hours"]["sat"] == [] and props["holidays"] == [
        {"date": "2025-12-25", "label": "Christmas"},
        "2026-01-01",
    ]


def test_parse_prompt_numbers_bools_and_rows():
    info = catalog_type(node_type_catalog(), "menu")
    node = {
        "id": "m",
        "type": "menu",
        "props": {"retries": 2, "options": [{"digit": "1"}, {"digit": "2"}]},
        "outcomes": {"1": "a", "2": "b", "fallback": "c"},
    }
    form = MultiDict(
        {
            "name": "Menu",
            "f.prompt.mode": "say",
            "f.prompt.text": "Press 1",
            "f.prompt.voice": "alice",
            "f.timeout": "7",
            "f.retries": "",
            "f.options.count": "3",
            "f.options.0.digit": "3",
            "f.options.0.label": "Sales",
            "f.options.0.keywords": "sales, buy",
            "f.options.1.digit": "2",
            "f.options.1.label": "Support",
            "f.options.1.keywords": "",
            "f.options.2.digit": "",
            "f.options.2.label": "",
            "f.options.2.keywords": "",
        }
    )
    parsed = parse_node(node, info, form)
    props = parsed["props"]
    assert props["prompt"] == {"say": "Press 1", "voice": "alice"} and props["timeout"] == 7
    assert "retries" not in props  # empty: the node type's default applies
    assert props["options"] == [
        {"digit": "3", "label": "Sales", "keywords": ["sales", "buy"]},
        {"digit": "2", "label": "Support"},
    ]
    # option 1's key changed from 1 to 3: its wire follows it
    assert parsed["outcomes"] == {"3": "a", "2": "b", "fallback": "c"}


def test_row_actions_add_and_remove_keep_wires():
    info = catalog_type(node_type_catalog(), "menu")
    node = {
        "id": "m",
        "type": "menu",
        "props": {"options": [{"digit": "1"}, {"digit": "2"}]},
        "outcomes": {"1": "a", "2": "b"},
    }
    added = apply_row_action(node, info, "add:options")
    assert added["props"]["options"][-1] == {"digit": "3", "label": ""} and added["outcomes"] == {"1": "a", "2": "b"}
    removed = apply_row_action(node, info, "remove:options:0")
    assert removed["props"]["options"] == [{"digit": "2"}] and removed["outcomes"] == {"2": "b"}
    assert apply_row_action(node, info, "remove:nope:1") == node
    branch = catalog_type(node_type_catalog(), "branch")
    bnode = {
        "id": "b",
        "type": "branch",
        "props": {"conditions": [{"id": "c1", "operator": "equal_to"}]},
        "outcomes": {},
    }
    assert apply_row_action(bnode, branch, "add:conditions")["props"]["conditions"][-1]["id"] == "c2"


def test_row_action_over_http_embeds_the_new_node(ed, acme):
    resp = _form(
        ed,
        acme,
        _menu(acme),
        _action="add:options",
        **{"f.options.count": "2", "f.options.0.digit": "1", "f.options.1.digit": "2", "f.prompt.text": "Hi"},
    )
    html = resp.get_data(as_text=True)
    changed = json.loads(html.split('class="nf-changed">', 1)[1].split("</script>", 1)[0])
    assert [o["digit"] for o in changed["props"]["options"]] == ["1", "2", "3"]
    assert 'name="f.options.2.digit"' in html


def test_bad_node_posts_say_what_is_wrong(ed, acme):
    fid = acme["flow"].id
    resp = ed.htmx(f"/flows/{fid}/node-form", {"node": "{oops"})
    assert resp.status_code == 400 and "not valid JSON" in resp.get_json()["error"]["message"]
    resp = ed.htmx(f"/flows/{fid}/node-form", {"node": json.dumps({"id": "x", "type": "teleport"})})
    assert resp.status_code == 400 and "Unknown node type 'teleport'" in resp.get_json()["error"]["message"]
    resp = ed.htmx(f"/flows/{fid}/node-parse", {})
    assert resp.status_code == 400 and "The node is missing." in resp.get_json()["error"]["message"]


def test_settings_form_and_parse(ed, acme):
    fid = acme["flow"].id
    settings = acme["flow"].draft["settings"]
    html = ed.htmx(f"/flows/{fid}/settings-form", {"settings": json.dumps(settings)}).get_data(as_text=True)
    assert 'name="f.voice"' in html and 'name="f.fallback_action"' in html
    form = {
        "settings": json.dumps(settings),
        "f.voice": "alice",
        "f.language": "",
        "f.timezone": "Europe/Paris",
        "f.fallback_action": "transfer",
        "f.fallback_number": "+14155550100",
        "f.max_node_visits": "10",
    }
    body = ed.htmx(f"/flows/{fid}/settings-parse", form).get_json()
    assert body["settings"]["voice"] == "alice" and "language" not in body["settings"]
    assert body["settings"]["fallback"]["action"] == "transfer" and body["settings"]["max_node_visits"] == 10
    form["f.fallback_number"] = ""
    body = ed.htmx(f"/flows/{fid}/settings-parse", form).get_json()
    assert "needs a number" in body["error"]


def test_a_read_only_view_asks_for_disabled_forms(ed, acme):
    html = _form(ed, acme, _menu(acme), readonly="1").get_data(as_text=True)
    assert '<fieldset class="stack-tight" disabled>' in html and "Make start" not in html
    settings = json.dumps(acme["flow"].draft["settings"])
    html = ed.htmx(f"/flows/{acme['flow'].id}/settings-form", {"settings": settings, "readonly": "1"}).get_data(
        as_text=True
    )
    assert "disabled" in html


def test_field_help_is_plain_text_without_markdown():
    """Help is shown as plain text under each field: markdown backticks would show up literally."""
    helps = [(t["type"], f["name"], f.get("help") or "") for t in node_type_catalog()["types"] for f in t["fields"]]
    assert helps and not [h for h in helps if "`" in h[2]]


def test_settings_choose_the_channels_and_the_palette_knows_each_types(ed, acme):
    fid = acme["flow"].id
    settings = acme["flow"].draft["settings"]
    html = ed.htmx(f"/flows/{fid}/settings-form", {"settings": json.dumps(settings)}).get_data(as_text=True)
    assert 'name="f.channels"' in html and 'name="f.messaging_start"' in html
    form = {"settings": json.dumps(settings), "f.channels": "voice+messaging", "f.messaging_start": "texts"}
    body = ed.htmx(f"/flows/{fid}/settings-parse", form).get_json()
    assert body["settings"]["channels"] == ["voice", "messaging"] and body["settings"]["messaging_start"] == "texts"
    calls_only = ed.htmx(f"/flows/{fid}/settings-parse", {**form, "f.channels": "voice", "f.messaging_start": ""})
    assert "channels" not in calls_only.get_json()["settings"]
    page = ed.get(f"/flows/{fid}").get_data(as_text=True)
    assert 'id="flow-channels"' in page and ">Calls</span>" in page
    assert 'data-type="record" data-channels="voice"' in page
    assert 'data-type="wait_for_reply" data-channels="messaging"' in page
    assert 'data-type="menu" data-channels="voice messaging"' in page


def test_the_request_start_shows_the_curl_of_its_executions_endpoint(ed, acme):
    flow = acme["flow"]
    start = next(n for n in flow.draft["nodes"] if n["id"] == flow.draft["start"])
    html = _form(ed, acme, start).get_data(as_text=True)
    assert "Start by request (REST API)" in html
    assert f"/api/flows/{flow.id}/executions" in html and "Authorization: Bearer &lt;token&gt;" in html
    assert "orgid: acme" in html and "&#34;parameters&#34;" in html
    assert "It places a call to <code>to</code>." in html and "&#34;channel&#34;" not in html
    assert "Start by request" not in _form(ed, acme, _menu(acme)).get_data(as_text=True)


def _channel_flow(first: dict, *rest: dict, channels=("voice", "messaging")) -> dict:
    nodes = [first, *rest]
    ui = {"nodes": {n["id"]: {"x": 0, "y": 0} for n in nodes}}
    return {
        "spec": "phonetree/1",
        "start": first["id"],
        "settings": {"channels": list(channels)},
        "nodes": nodes,
        "ui": ui,
    }


def test_the_request_start_of_a_flow_serving_both_channels_shows_how_to_choose(ed, acme):
    which = channel_branch("which", texts="t", calls="bye")
    text = {"id": "t", "type": "send_message", "props": {"body": "Hi"}, "outcomes": {}}
    bye = {"id": "bye", "type": "hangup", "props": {"say": "Bye"}, "outcomes": {}}
    shared = _channel_flow(which, text, bye)
    html = _form(ed, acme, which, definition=json.dumps(shared)).get_data(as_text=True)
    assert "This flow serves calls and text conversations" in html
    assert '<code>"channel": "messaging"</code> texts it first' in html
    assert "Without <code>channel</code> this one calls" in html  # the branch on the channel does not decide
    assert "&#34;parameters&#34;: {&#34;name&#34;: &#34;Ada&#34;}, &#34;channel&#34;: &#34;voice&#34;}" in html

    texts_first = _channel_flow({**text, "outcomes": {"next": "bye"}}, bye)
    html = _form(ed, acme, texts_first["nodes"][0], definition=json.dumps(texts_first)).get_data(as_text=True)
    assert "Without <code>channel</code> this one texts" in html and "&#34;channel&#34;: &#34;messaging&#34;}" in html

    texts_only = _channel_flow(text, channels=("messaging",))
    html = _form(ed, acme, text, definition=json.dumps(texts_only)).get_data(as_text=True)
    assert "It texts <code>to</code> first" in html and "&#34;channel&#34;" not in html


def test_a_text_flow_form_shows_a_string_prompt_and_speaks_of_texts_and_conversations(ed, acme):
    definition = json.loads(json.dumps(acme["flow"].draft))
    definition["settings"]["channels"] = ["messaging"]
    menu = {**_menu(acme), "props": {**_menu(acme)["props"], "prompt": "Reply 1 for sales"}}
    hangup = {"id": "bye", "type": "hangup", "props": {}, "outcomes": {}}
    definition["nodes"] = [menu if n["id"] == "main" else n for n in definition["nodes"]] + [hangup]
    post = {"definition": json.dumps(definition)}

    html = ed.htmx(f"/flows/{acme['flow'].id}/node-form", {**post, "node": json.dumps(menu)}).get_data(as_text=True)
    assert ">Reply 1 for sales</textarea>" in html  # a bare string prompt is what it says
    assert "> Text</label>" in html and "> Media URL</label>" in html and 'placeholder="reply keywords"' in html
    # what only a call uses stays in the form (its value is kept) but hidden: voice, keypad timeout
    assert '<details class="nf-more" hidden' in html and 'data-field="timeout" hidden' in html
    assert 'data-field="retries" hidden' not in html
    assert "— ends the conversation —" in html and "ends the call" not in html
    html = ed.htmx(f"/flows/{acme['flow'].id}/node-form", {**post, "node": json.dumps(hangup)}).get_data(as_text=True)
    assert "This node ends the conversation." in html and '<div class="nf-type">End conversation</div>' in html

    definition["settings"]["channels"] = ["voice", "messaging"]
    post = {"definition": json.dumps(definition), "node": json.dumps(menu)}
    html = ed.htmx(f"/flows/{acme['flow'].id}/node-form", post).get_data(as_text=True)
    assert "> Say</label>" in html and "— ends the call or conversation —" in html
    assert " hidden" not in html.split('data-field="speech_language"')[0].rsplit("<div", 1)[-1]
    assert '<details class="nf-more" hidden' not in html and 'data-field="timeout" hidden' not in html


def test_a_field_for_calls_only_keeps_its_value_when_a_text_flow_saves_the_form(ed, acme):
    info = next(t for t in node_type_catalog()["types"] if t["type"] == "collect_input")
    assert next(f for f in info["fields"] if f["name"] == "finish_on_key")["channels"] == ["voice"]
    assert "channels" not in next(f for f in info["fields"] if f["name"] == "regex")
    node = {"id": "ask", "type": "collect_input", "props": {"prompt": "Your order number?", "variable": "order",
                                                            "finish_on_key": "*", "profanity_filter": False}}
    definition = {**acme["flow"].draft, "settings": {"channels": ["messaging"]}}
    post = {"definition": json.dumps(definition), "node": json.dumps(node)}
    html = ed.htmx(f"/flows/{acme['flow'].id}/node-form", post).get_data(as_text=True)
    assert 'data-field="finish_on_key" hidden' in html and 'data-field="regex">' in html
    assert 'name="f.finish_on_key" value="*"' in html  # still posted with the form: saving keeps it


def test_the_settings_form_shows_the_channels_first_in_words_and_only_their_settings(ed, acme):
    fid = acme["flow"].id

    def form(settings: dict) -> str:
        return ed.htmx(f"/flows/{fid}/settings-form", {"settings": json.dumps(settings)}).get_data(as_text=True)

    calls = form(acme["flow"].draft["settings"])
    assert calls.index('name="f.channels"') < calls.index('name="f.voice"')  # the first choice of a flow
    assert '<option value="voice+messaging" >Calls and texts</option>' in calls
    assert 'data-field="voice">' in calls and 'data-field="inactivity_timeout" hidden' in calls
    texts = form({**acme["flow"].draft["settings"], "channels": ["messaging"]})
    assert 'data-field="voice" hidden' in texts and 'data-field="fallback_number" hidden' in texts
    assert 'data-field="inactivity_timeout">' in texts and 'name="f.voice" value="Polly.Joanna"' in texts  # kept
    both = form({**acme["flow"].draft["settings"], "channels": ["voice", "messaging"]})
    assert " hidden" not in both.split('name="f.max_node_visits"')[0].split("<fieldset")[1]


def test_a_text_flow_form_offers_a_conversations_names_and_its_senders_in_words(ed, acme):
    ask = {"id": "ask", "type": "wait_for_reply", "props": {"prompt": "Order number?"}, "outcomes": {"replied": "t"}}
    text = {"id": "t", "type": "send_message", "props": {"body": "Got it"}, "outcomes": {}}
    definition = {**acme["flow"].draft, "start": "ask", "nodes": [ask, text], "settings": {"channels": ["messaging"]}}

    def form(channels: list[str]) -> str:
        post = {"definition": json.dumps({**definition, "settings": {"channels": channels}}), "node": json.dumps(text)}
        return ed.htmx(f"/flows/{acme['flow'].id}/node-form", post).get_data(as_text=True)

    html = form(["messaging"])
    chips = re.findall(r'data-insert="([^"]+)"', html)
    assert chips[:5] == ["trigger.message.Body", "trigger.message.From", "trigger.message.To",
                         "contact.channel.address", "flow.channel.address"]
    assert not any(c.startswith("call.") for c in chips) and "trigger.channel" not in chips
    assert "widgets.ask.inbound.Body" in chips and "widgets.ask.inbound.media" in chips  # the reply upstream
    assert '<div class="scope-title">Conversation</div>' in html
    assert 'name="f.to" value="" placeholder="the contact"' in html
    assert 'name="f.from" value="" placeholder="this number"' in html

    html = form(["voice"])
    assert 'data-insert="call.caller_name"' in html and 'data-insert="trigger.message.Body"' not in html
    assert 'placeholder="the caller"' in html and "placeholder=\"the flow&#39;s number\"" in html
    html = form(["voice", "messaging"])  # either session: the default as it is stored, which works on both
    assert 'data-insert="trigger.channel"' in html and 'data-insert="call.from"' in html
    assert 'name="f.to" value="" placeholder="{{ contact.channel.address }}"' in html

    parsed = parse_node(text, catalog_type(node_type_catalog(), "send_message"), MultiDict({"f.body": "Got it"}))
    assert "to" not in parsed["props"] and "from" not in parsed["props"]  # an empty field keeps the stored default
