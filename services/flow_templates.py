"""Starter flows offered when creating a flow (and used to seed the demo organisation)."""

from __future__ import annotations

import copy

SPEC = "phonetree/1"


def _flow(start: str, nodes: list[dict], positions: dict[str, tuple[int, int]], notes=()) -> dict:
    return {
        "spec": SPEC,
        "start": start,
        "settings": {
            "timezone": "UTC",
            "voice": "Polly.Joanna",
            "language": "en-US",
            "fallback": {"action": "hangup", "message": "Sorry, something went wrong. Goodbye."},
        },
        "nodes": nodes,
        "ui": {"nodes": {nid: {"x": x, "y": y} for nid, (x, y) in positions.items()}, "notes": list(notes)},
    }


def _office_hours(open_: str, closed: str) -> dict:
    """A business-hours node open 09:00-17:00 Monday to Friday (in the zone template_definition sets)."""
    weekdays = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    return {
        "id": "hours",
        "type": "business_hours",
        "name": "Open now?",
        "props": {"timezone": "UTC", "hours": weekdays | {"sat": [], "sun": []}, "holidays": []},
        "outcomes": {"open": open_, "closed": closed},
    }


def _blank() -> dict:
    return _flow(
        "hello",
        [
            {
                "id": "hello",
                "type": "say",
                "name": "Greeting",
                "props": {"prompt": {"say": "Hello, thanks for calling."}},
                "outcomes": {"next": "bye"},
            },
            {"id": "bye", "type": "hangup", "name": "Hang up", "props": {}, "outcomes": {}},
        ],
        {"hello": (80, 80), "bye": (80, 260)},
    )


def _main_menu() -> dict:
    return _flow(
        "hours",
        [
            _office_hours(open_="main", closed="closed"),
            {
                "id": "main",
                "type": "menu",
                "name": "Main menu",
                "props": {
                    "prompt": {"say": "Thanks for calling. For sales press 1. For support press 2."},
                    "options": [
                        {"digit": "1", "label": "Sales", "keywords": ["sales"]},
                        {"digit": "2", "label": "Support", "keywords": ["support"]},
                    ],
                    "timeout": 5,
                    "retries": 2,
                },
                "outcomes": {"1": "sales", "2": "support", "fallback": "voicemail"},
            },
            {
                "id": "sales",
                "type": "say",
                "name": "Sales",
                "props": {"prompt": {"say": "Our sales team will be with you shortly."}},
                "outcomes": {"next": "voicemail"},
            },
            {
                "id": "support",
                "type": "collect_input",
                "name": "Ticket number",
                "props": {
                    "prompt": {"say": "Please enter your six digit ticket number, then press pound."},
                    "input": "dtmf",
                    "num_digits": 6,
                    "finish_on_key": "#",
                    "variable": "ticket",
                    "validation": {"min_length": 6, "max_length": 6, "digits_only": True},
                    "retries": 2,
                },
                "outcomes": {"success": "thanks", "invalid": "voicemail", "no_input": "voicemail"},
            },
            {
                "id": "thanks",
                "type": "hangup",
                "name": "Thanks",
                "props": {"say": "Thank you. We will call you back about ticket {{ vars.ticket }}."},
                "outcomes": {},
            },
            {
                "id": "closed",
                "type": "say",
                "name": "Closed",
                "props": {"prompt": {"say": "We are closed right now. Our hours are nine to five, Monday to Friday."}},
                "outcomes": {"next": "voicemail"},
            },
            {
                "id": "voicemail",
                "type": "voicemail",
                "name": "Voicemail",
                "props": {
                    "prompt": {"say": "Please leave a message after the tone."},
                    "max_length": 120,
                    "transcribe": True,
                },
                "outcomes": {},
            },
        ],
        {
            "hours": (320, 40),
            "main": (120, 220),
            "closed": (560, 220),
            "sales": (0, 420),
            "support": (260, 420),
            "thanks": (260, 600),
            "voicemail": (560, 600),
        },
    )


def _after_hours() -> dict:
    return _flow(
        "hours",
        [
            _office_hours(open_="open", closed="voicemail"),
            {
                "id": "open",
                "type": "say",
                "name": "Open",
                "props": {"prompt": {"say": "We are open; please hold."}},
                "outcomes": {"next": "bye"},
            },
            {
                "id": "voicemail",
                "type": "voicemail",
                "name": "After-hours voicemail",
                "props": {
                    "prompt": {"say": "We are closed. Leave a message after the tone and we will call you back."},
                    "max_length": 120,
                    "transcribe": True,
                },
                "outcomes": {},
            },
            {"id": "bye", "type": "hangup", "name": "Goodbye", "props": {"say": "Goodbye."}, "outcomes": {}},
        ],
        {"hours": (200, 40), "open": (40, 220), "voicemail": (360, 220), "bye": (40, 400)},
    )


def _payment_line() -> dict:
    return _flow(
        "account",
        [
            {
                "id": "account",
                "type": "collect_input",
                "name": "Account number",
                "props": {
                    "prompt": {"say": "Please enter your eight digit account number."},
                    "input": "dtmf",
                    "num_digits": 8,
                    "variable": "account",
                    "validation": {"min_length": 8, "max_length": 8, "digits_only": True},
                    "retries": 2,
                },
                "outcomes": {"success": "pay", "invalid": "bye", "no_input": "bye"},
            },
            {
                "id": "pay",
                "type": "pay",
                "name": "Take payment",
                "props": {
                    "charge_amount": "25.00",
                    "currency": "usd",
                    "description": "Account {{ vars.account }}",
                    "payment_connector": "Default",
                    "max_attempts": 2,
                },
                "outcomes": {"success": "paid", "failed": "failed"},
            },
            {
                "id": "paid",
                "type": "hangup",
                "name": "Paid",
                "props": {
                    "say": "Thank you, your payment was received. "
                    "Confirmation {{ widgets.pay.PaymentConfirmationCode }}."
                },
                "outcomes": {},
            },
            {
                "id": "failed",
                "type": "hangup",
                "name": "Payment failed",
                "props": {"say": "Sorry, we could not take your payment. Please try again later."},
                "outcomes": {},
            },
            {"id": "bye", "type": "hangup", "name": "Goodbye", "props": {"say": "Goodbye."}, "outcomes": {}},
        ],
        {"account": (200, 40), "pay": (200, 220), "paid": (40, 400), "failed": (360, 400), "bye": (520, 220)},
    )


def _text_line() -> dict:
    definition = _flow(
        "menu",
        [
            {
                "id": "menu",
                "type": "menu",
                "name": "Welcome",
                "props": {
                    "prompt": "Thanks for texting us! Reply 1 for our opening hours, 2 to ask us a question.",
                    "options": [
                        {"digit": "1", "label": "Hours", "keywords": ["hours", "open"]},
                        {"digit": "2", "label": "Question", "keywords": ["question", "ask"]},
                    ],
                    "invalid_prompt": "Sorry, reply 1 or 2.",
                    "retries": 1,
                },
                "outcomes": {"1": "hours", "2": "ask", "fallback": "bye"},
            },
            {
                "id": "hours",
                "type": "send_message",
                "name": "Opening hours",
                "props": {"body": "We are open nine to five, Monday to Friday."},
                "outcomes": {"sent": "end", "failed": "end"},
            },
            {
                "id": "ask",
                "type": "wait_for_reply",
                "name": "Question",
                "props": {"prompt": "What would you like to ask? We will text you back.", "timeout": 3600},
                "outcomes": {"replied": "thanks", "timeout": "end", "failed": "end"},
            },
            {
                "id": "thanks",
                "type": "hangup",
                "name": "Thanks",
                "props": {"say": "Thank you! Someone will text you back soon."},
                "outcomes": {},
            },
            {"id": "bye", "type": "hangup", "name": "No choice", "props": {"say": "Text us again anytime."},
             "outcomes": {}},
            {"id": "end", "type": "hangup", "name": "End", "props": {}, "outcomes": {}},
        ],
        {"menu": (200, 40), "hours": (40, 240), "ask": (360, 240), "thanks": (360, 440), "bye": (680, 240),
         "end": (40, 440)},
    )
    definition["settings"]["channels"] = ["messaging"]
    return definition


TEMPLATES = {
    "blank": ("Blank flow", "A greeting and a hang-up.", _blank),
    "main_menu": ("Main menu", "Business hours, a two-option menu, ticket lookup and voicemail.", _main_menu),
    "after_hours": ("After-hours voicemail", "Voicemail outside business hours.", _after_hours),
    "payment_line": ("Payment line", "Collect an account number and take a card payment.", _payment_line),
    "text_line": ("Text conversation", "For texts: a reply-1-or-2 menu, opening hours, a question to answer.",
                  _text_line),
}


def template_definition(key: str, timezone: str = "UTC") -> dict:
    """A fresh copy of a starter flow's definition in `timezone` (the org's); KeyError for an unknown key.

    The flow's settings and every business-hours node keep time in that zone.
    """
    definition = copy.deepcopy(TEMPLATES[key][2]())
    definition["settings"]["timezone"] = timezone
    for node in definition["nodes"]:
        if node["type"] == "business_hours":
            node["props"]["timezone"] = timezone
    return definition
