"""Flow definitions the call tests run, written as a designer would draw them."""

from __future__ import annotations

from typing import Any

from tests.calls.conftest import definition, node

SALES = "+15550002000"


def menu(options: dict[str, str], prompt: str = "Press 1 for sales, 2 to pay, 3 to hold.", **props: Any) -> dict:
    """A main menu routing digits to nodes, with a `bye` fallback."""
    return node(
        "main",
        "menu",
        {"prompt": {"say": prompt}, "options": [{"digit": d} for d in options], "retries": 2, **props},
        **options,
        fallback="bye",
    )


def bye(text: str = "Goodbye.") -> dict:
    """The hang-up node `bye`."""
    return node("bye", "hangup", {"say": text})


def acme() -> dict[str, Any]:
    """The whole Acme line: hours-checked sales transfer, account + payment, queue, voicemail."""
    return definition(
        menu({"1": "hours", "2": "account", "3": "hold"}),
        node("hours", "business_hours", {"timezone": "America/New_York"}, open="sales", closed="closed_vm"),
        node(
            "sales",
            "transfer",
            {"number": SALES, "timeout": 20},
            answered="bye",
            no_answer="closed_vm",
            busy="closed_vm",
            failed="closed_vm",
        ),
        node("closed_vm", "voicemail", {"prompt": {"say": "We are closed. Leave a message."}, "transcribe": True}),
        node(
            "account",
            "collect_input",
            {
                "prompt": {"say": "Enter your six digit account number, then hash."},
                "variable": "account",
                "min_length": 6,
                "max_length": 6,
                "digits_only": True,
                "retries": 1,
                "invalid_prompt": {"say": "That is not a six digit number."},
            },
            success="pay",
            invalid="bye",
            no_input="bye",
        ),
        node(
            "pay",
            "pay",
            {"prompt": {"say": "Paying 12.50 on account {{ vars.account }}."}, "charge_amount": "12.50"},
            success="paid",
            failed="pay_failed",
        ),
        node("paid", "hangup", {"say": "Payment received. Thank you."}),
        node("pay_failed", "hangup", {"say": "The payment did not go through."}),
        node(
            "hold",
            "enqueue",
            {"queue": "support", "hold_message": {"say": "Please hold."}},
            bridged="bye",
            hangup="bye",
            leave="bye",
            error="bye",
        ),
        bye(),
    )
