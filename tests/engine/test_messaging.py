"""Messaging sessions on the engine: channels, send_message, wait_for_reply, menus and input by text."""

from __future__ import annotations

from dataclasses import replace

from flows import Event, FakeServices, load_definition, run_turn, validate
from flows.studio import import_studio
from tests.engine.helpers import NOW, flow, make_ctx, node

CONTACT, NUMBER = "+14155550123", "+14155550999"
MESSAGE = {"MessageSid": "SM" + "1" * 32, "From": CONTACT, "To": NUMBER, "Body": "hi"}


class Chat:
    """Drive one text conversation through the engine."""

    def __init__(self, definition, services=None) -> None:
        self.definition = definition
        self.services = services or FakeServices()
        self.ctx = replace(make_ctx(self.services, call=MESSAGE), channel="messaging")
        self.state = None

    def send(self, kind: str, **params):
        result = run_turn(self.definition, self.state, Event(kind, params), self.ctx)
        self.state = result.state
        return result

    def texts(self) -> list[str]:
        return [args[2] for name, args in self.services.calls if name == "send_message"]


def outcomes(result):
    return [(s.node_id, s.outcome) for s in result.steps]


SURVEY = flow(
    node(
        "ask",
        "wait_for_reply",
        {"prompt": "Rate us 1-5, {{ trigger.message.Body }}?", "timeout": "600"},
        replied="thanks",
        timeout="late",
        failed="oops",
    ),
    node("thanks", "send_message", {"body": "You said {{ widgets.ask.inbound.Body }}"}),
    node("late", "send_message", {"body": "No answer, never mind."}),
    node("oops", "hangup", {}),
    channels=["messaging"],
)


def test_wait_for_reply_sends_waits_and_takes_the_reply() -> None:
    chat = Chat(SURVEY)
    first = chat.send("start", **MESSAGE)
    assert not first.done and chat.state["waiting"]["node"] == "ask"
    assert chat.state["waiting"]["until"] == "2025-03-04T15:40:00+00:00"  # the string timeout, 600 s
    assert chat.texts() == ["Rate us 1-5, hi?"]
    second = chat.send("input", Body="5", From=CONTACT, MediaUrl0="https://x.example/a.jpg", NumMedia="1")
    assert outcomes(second) == [("ask", "replied"), ("thanks", "sent")]
    assert second.done and chat.texts()[-1] == "You said 5"
    assert chat.state["results"]["ask"]["inbound"]["media"] == ["https://x.example/a.jpg"]


def test_wait_for_reply_timeout_and_failed_with_the_provider_code() -> None:
    chat = Chat(SURVEY)
    chat.send("start", **MESSAGE)
    assert outcomes(chat.send("timeout")) == [("ask", "timeout"), ("late", "sent")]

    class Stopped(Exception):
        code = 21610

    failing = Chat(SURVEY, FakeServices(sms_error=Stopped("unsubscribed")))
    result = failing.send("start", **MESSAGE)
    assert outcomes(result)[0] == ("ask", "failed")
    assert failing.state["results"]["ask"]["error"] == "21610"


def test_a_wait_outside_1_s_to_7_days_or_given_as_text_is_one_clear_error() -> None:
    def timeout_issues(value):
        survey = flow(node("ask", "wait_for_reply", {"prompt": "Rate us", "timeout": value}), channels=["messaging"])
        return [(i.severity, i.code, i.message) for i in validate(survey) if i.field == "timeout"]

    assert timeout_issues(3600) == timeout_issues(7 * 24 * 3600) == []
    for value in (0, 7 * 24 * 3600 + 1):
        assert timeout_issues(value) == [
            ("error", "out_of_range", "Wait (seconds) must be between 1 second and 7 days (604800 s).")
        ]
    for value in ("abc", "3600"):  # one issue, not "must be a number" beside "must be a whole number"
        [(severity, code, message)] = timeout_issues(value)
        assert (severity, code) == ("error", "invalid_type") and f"not the text {value!r}" in message
        assert "between 1 second and 7 days (604800 s)" in message


def test_menu_over_messaging_matches_digits_and_keywords_without_case_or_accents() -> None:
    menu = flow(
        node(
            "m",
            "menu",
            {
                "prompt": "Reply 1 for sí, 2 for no",
                "retries": 1,
                "options": [{"digit": "1", "keywords": ["sí"]}, {"digit": "2", "keywords": ["no"]}],
            },
            **{"1": "yes", "2": "no", "fallback": "lost"},
        ),
        node("yes", "hangup", {"say": "Great"}),
        node("no", "hangup", {}),
        node("lost", "hangup", {"say": "Bye"}),
        channels=["messaging"],
    )
    for reply, digit, target in (("1", "1", "yes"), ("SI", "1", "yes"), (" Sí ", "1", "yes"), ("No", "2", "no")):
        chat = Chat(menu)
        chat.send("start", **MESSAGE)
        assert outcomes(chat.send("input", Body=reply))[0] == ("m", digit)
        assert chat.state["end"]["node"] == target
    chat = Chat(menu)
    chat.send("start", **MESSAGE)
    retry = chat.send("input", Body="maybe")
    assert not retry.done and chat.texts()[-2:] == ["Sorry, that is not a valid choice.", "Reply 1 for sí, 2 for no"]
    assert outcomes(chat.send("input", Body="perhaps"))[0] == ("m", "fallback")
    assert chat.texts()[-1] == "Bye"


def test_a_refused_text_of_a_node_without_a_failed_outcome_ends_the_conversation_not_sent(caplog) -> None:
    """The contact replied STOP while a menu waits: its retry prompt is refused (21610), and the
    conversation ends ``not_sent`` with the code, not in the fallback (whose apology would be refused too)."""

    class Stopped(Exception):
        code = 21610

    menu = flow(
        node("m", "menu", {"prompt": "Reply 1 or 2", "options": [{"digit": "1"}, {"digit": "2"}]}),
        channels=["messaging"],
    )
    chat = Chat(menu)
    chat.send("start", **MESSAGE)
    chat.services.sms_error = Stopped("Attempt to send to unsubscribed recipient")
    with caplog.at_level("INFO", logger="phonetree.flows"):
        result = chat.send("input", Body="maybe")  # opted out elsewhere: the retry is refused
    assert result.done and chat.state["end"] == {"reason": "not_sent", "node": "m", "turn": 2, "detail": "21610"}
    assert [(s.node_id, s.event, s.detail) for s in result.steps] == [("m", "input", {"not_sent": "21610"})]
    assert [r.levelname for r in caplog.records if r.levelno >= 30] == []  # no traceback: not a fault
    assert chat.texts() == ["Reply 1 or 2", "Sorry, that is not a valid choice."]  # the retry's first text, refused


def test_a_text_longer_than_twilio_takes_is_cut_to_1600_characters() -> None:
    """A prompt with the contact's 1,600-character text in it is sent cut, not refused (21617)."""
    menu = flow(
        node("m", "menu", {"prompt": "You said: {{ trigger.message.Body }}. Reply 1", "options": [{"digit": "1"}]}),
        node("t", "send_message", {"body": "{{ trigger.message.Body }}{{ trigger.message.Body }}"}),
        channels=["messaging"],
    )
    chat = Chat(menu)
    chat.send("start", **{**MESSAGE, "Body": "x" * 1600})
    assert chat.texts() == ["You said: " + "x" * 1590]
    chat.definition = {**menu, "start": "t"}
    chat.send("start", **{**MESSAGE, "Body": "y" * 1600})
    assert chat.texts()[-1] == "y" * 1600


def test_collect_input_over_messaging_checks_the_reply() -> None:
    ask = flow(
        node(
            "zip",
            "collect_input",
            {"prompt": "Your ZIP?", "variable": "zip", "digits_only": True, "min_length": 5, "max_length": 5},
            success="ok",
        ),
        node("ok", "send_message", {"body": "ZIP {{ vars.zip }}"}),
        channels=["messaging"],
    )
    chat = Chat(ask)
    chat.send("start", **MESSAGE)
    chat.send("input", Body="12")
    assert chat.texts()[-2:] == ["Sorry, that is not valid.", "Your ZIP?"]
    assert outcomes(chat.send("input", Body="94107")) == [("zip", "success"), ("ok", "sent")]


def test_collect_input_over_messaging_takes_invalid_or_no_input_after_its_retries() -> None:
    ask = flow(
        node(
            "zip",
            "collect_input",
            {"prompt": "Your ZIP?", "variable": "zip", "digits_only": True, "min_length": 5, "retries": 1},
            success="ok",
            invalid="bad",
            no_input="none",
        ),
        node("ok", "send_message", {"body": "ZIP {{ vars.zip }}"}),
        node("bad", "hangup", {"say": "Not a ZIP, bye"}),
        node("none", "hangup", {"say": "Nothing? Bye"}),
        channels=["messaging"],
    )
    cases = ((["12", "abc"], "invalid", "Not a ZIP, bye"), (["", " "], "no_input", "Nothing? Bye"))
    for replies, outcome, last in cases:
        chat = Chat(ask)
        chat.send("start", **MESSAGE)
        assert not chat.send("input", Body=replies[0]).done and chat.texts()[-1] == "Your ZIP?"  # one retry
        assert outcomes(chat.send("input", Body=replies[1]))[0] == ("zip", outcome)
        assert chat.texts()[-1] == last


def test_channels_decide_the_start_and_which_nodes_fit() -> None:
    both = flow(
        node("voice_menu", "menu", {"prompt": "Press 1", "options": [{"digit": "1"}]}, **{"1": "rec"}),
        node("rec", "record", {"prompt": "Speak"}),
        node("text", "wait_for_reply", {"prompt": "Hi!"}, replied="rec"),
        channels=["voice", "messaging"],
        messaging_start="text",
    )
    issues = [(i.code, i.node_id) for i in validate(both) if i.severity == "error"]
    assert issues == [("wrong_channel", "rec")]
    assert "Record works on calls only" in next(i.message for i in validate(both) if i.code == "wrong_channel")
    assert Chat(both).send("start", **MESSAGE).steps[0].node_id == "text"
    voice_only = flow(node("text", "wait_for_reply", {"prompt": "Hi!"}))
    assert [i.code for i in validate(voice_only) if i.severity == "error"] == ["wrong_channel"]


def test_an_unconnected_outcome_is_described_in_the_flows_own_channel() -> None:
    def dead_end(channels):
        texts = flow(node("t", "send_message", {"body": "Hi"}, sent="t2"), node("t2", "hangup", {}), channels=channels)
        return next(i.message for i in validate(texts) if i.code == "dead_end")

    expected = "Outcome 'failed' is not connected: the conversation ends there without a last message."
    assert dead_end(["messaging"]) == expected
    assert "the call hangs up (or the conversation ends)" in dead_end(["voice", "messaging"])
    assert dead_end(["voice"]).endswith("the call hangs up there without a goodbye.")


def test_a_shared_start_branches_on_the_channel() -> None:
    shared = flow(
        node(
            "which",
            "branch",
            {
                "input": "{{ trigger.channel }}",
                "conditions": [{"id": "sms", "operator": "equal_to", "value": "messaging"}],
            },
            sms="text",
            no_match="rec",
        ),
        node("text", "send_message", {"body": "Hello by text"}),
        node("rec", "record", {"prompt": "Speak"}),
        channels=["voice", "messaging"],
    )
    assert [i for i in validate(shared) if i.severity == "error"] == []
    chat = Chat(shared)
    assert outcomes(chat.send("start", **MESSAGE)) == [("which", "sms"), ("text", "sent")]


def test_send_sms_definitions_load_as_send_message_with_media() -> None:
    old = flow(node("t", "send_sms", {"body": "Hi", "media_url": "https://x.example/p.png"}), channels=["messaging"])
    assert load_definition(old).node("t").type == "send_message"
    chat = Chat(old)
    chat.send("start", **MESSAGE)
    assert chat.services.calls == [("send_message", (CONTACT, NUMBER, "Hi", ["https://x.example/p.png"]))]


def test_studio_messaging_widgets_import_as_messaging_nodes() -> None:
    studio = {
        "description": "t",
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "properties": {"offset": {"x": 0, "y": 0}},
                "transitions": [{"event": "incomingMessage", "next": "ask"}],
            },
            {
                "name": "ask",
                "type": "send-and-wait-for-reply",
                "properties": {
                    "from": "{{flow.channel.address}}",
                    "body": "Hi {{trigger.message.From}}",
                    "timeout": 120,
                },
                "transitions": [
                    {"event": "incomingMessage", "next": "echo"},
                    {"event": "timeout"},
                    {"event": "deliveryFailure"},
                ],
            },
            {
                "name": "echo",
                "type": "send-message",
                "properties": {
                    "from": "{{flow.channel.address}}",
                    "to": "{{contact.channel.address}}",
                    "body": "Got {{widgets.ask.inbound.Body}} / {{trigger.message.Body}}",
                },
                "transitions": [{"event": "sent"}, {"event": "failed"}],
            },
        ],
    }
    definition, report = import_studio(studio)
    assert definition["settings"] == {"channels": ["messaging"]} and definition["start"] == "ask"
    assert {r["widget"]: r["status"] for r in report} == {"Trigger": "mapped", "ask": "mapped", "echo": "mapped"}
    assert [i for i in validate(definition) if i.severity == "error"] == []
    chat = Chat(definition)
    chat.send("start", **MESSAGE)
    chat.send("input", Body="yo")
    assert chat.texts() == [f"Hi {CONTACT}", "Got yo / hi"]
    assert NOW.tzinfo is not None


def test_a_studio_timeout_as_text_imports_as_seconds_and_says_what_it_changed() -> None:
    def imported(timeout):
        studio = {
            "description": "t",
            "initial_state": "Trigger",
            "flags": {"allow_concurrent_calls": True},
            "states": [
                {"name": "Trigger", "type": "trigger", "properties": {},
                 "transitions": [{"event": "incomingMessage", "next": "ask"}]},
                {"name": "ask", "type": "send-and-wait-for-reply",
                 "properties": {"from": "{{flow.channel.address}}", "body": "Hi", "timeout": timeout},
                 "transitions": [{"event": "incomingMessage"}, {"event": "timeout"}, {"event": "deliveryFailure"}]},
            ],
        }
        definition, report = import_studio(studio)
        assert [i for i in validate(definition) if i.severity == "error"] == []
        return definition["nodes"][0]["props"]["timeout"], report[1]["detail"]

    assert imported("1800") == (1800, "→ wait_for_reply")
    assert imported(120) == (120, "→ wait_for_reply")
    seconds, note = imported(str(8 * 24 * 3600))  # past Studio's and Phonetree's 7 days
    assert seconds == 7 * 24 * 3600 and "timeout '691200' read as 604800 s" in note
    seconds, note = imported("soon")
    assert seconds == 3600 and "timeout 'soon' read as 3600 s" in note


def test_a_messaging_flow_made_here_exports_to_studio_and_back() -> None:
    from flows.studio import export_studio

    both = flow(
        node("menu", "menu", {"prompt": "Press 1", "options": [{"digit": "1"}]}, **{"1": "bye"}),
        node("bye", "hangup", {"say": "Bye"}),
        node(
            "ask",
            "wait_for_reply",
            {"prompt": "Hi!", "timeout": 90, "media_url": "https://x.example/a.png"},
            replied="thanks",
            timeout="thanks",
        ),
        node("thanks", "send_message", {"body": "Thanks {{ widgets.ask.inbound.Body }}"}),
        channels=["voice", "messaging"],
        messaging_start="ask",
    )
    studio = export_studio(load_definition(both))
    trigger = next(s for s in studio["states"] if s["type"] == "trigger")
    wired = {t["event"]: t.get("next") for t in trigger["transitions"]}
    assert wired["incomingCall"] == "menu" and wired["incomingMessage"] == "ask"
    ask = next(s for s in studio["states"] if s["name"] == "ask")
    assert ask["type"] == "send-and-wait-for-reply" and ask["properties"]["timeout"] == "90"
    assert ask["properties"]["body"] == "Hi!" and ask["properties"]["from"] == "{{flow.channel.address}}"
    assert {t["event"]: t.get("next") for t in ask["transitions"]} == {
        "incomingMessage": "thanks",
        "timeout": "thanks",
        "deliveryFailure": None,
    }
    back, _ = import_studio(studio)
    assert back["settings"] == {"channels": ["voice", "messaging"], "messaging_start": "ask"}
    again = next(n for n in back["nodes"] if n["id"] == "ask")
    assert again["type"] == "wait_for_reply" and again["props"]["timeout"] == 90
    thanks = next(n for n in back["nodes"] if n["id"] == "thanks")
    assert thanks["props"]["body"] == "Thanks {{ widgets.ask.inbound.Body }}"


def test_the_text_conversation_starter_answers_by_keyword_and_takes_a_question() -> None:
    from services.flow_templates import template_definition

    definition = load_definition(template_definition("text_line"))
    assert validate(definition) == []
    chat = Chat(definition)
    chat.send("start", **MESSAGE)
    chat.send("input", Body="Hours?")
    assert chat.texts() == [
        "Thanks for texting us! Reply 1 for our opening hours, 2 to ask us a question.",
        "We are open nine to five, Monday to Friday.",
    ]
    assert chat.state["end"]["node"] == "end"
    chat = Chat(definition)
    chat.send("start", **MESSAGE)
    assert outcomes(chat.send("input", Body="2"))[0] == ("menu", "2")
    chat.send("input", Body="Do you deliver?")
    assert chat.texts()[-1] == "Thank you! Someone will text you back soon." and chat.state["end"]["node"] == "thanks"


def test_send_message_defaults_to_the_contact_from_the_flows_number_on_a_call_the_flow_placed_too() -> None:
    """On a call an execution placed, Twilio's From is the flow's number and To the contact: the
    defaults are the contact's and the flow's addresses, not the inbound-only call.from / call.to."""
    texts = flow(node("t", "send_message", {"body": "Here is the link"}, sent="bye"), node("bye", "hangup", {}))
    for direction, call_from, call_to in (("inbound", CONTACT, NUMBER), ("outbound-api", NUMBER, CONTACT)):
        services = FakeServices()
        call = {"CallSid": "CA" + "2" * 32, "From": call_from, "To": call_to, "Direction": direction}
        run_turn(texts, None, Event("start", {}), make_ctx(services, call=call))
        assert [args[:2] for name, args in services.calls if name == "send_message"] == [(CONTACT, NUMBER)], direction
