"""The pay node: Twilio `<Pay>`, card details never kept beyond the masked number."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.formats import is_template
from flows.issues import Issue, error
from flows.prompts import add_prompt
from flows.registry import Field, NodeResult, NodeType, Route, Wait, prompt_summary, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

BANK_ACCOUNT_TYPES = ("consumer-checking", "consumer-savings", "commercial-checking", "commercial-savings")
AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
CARD_TYPES = ("visa", "mastercard", "amex", "maestro", "discover", "optima", "jcb", "diners-club", "enroute")
# Other spellings of the card types (Twilio Studio's Capture Payments writes "master-card"), folded
# to <Pay>'s names after lower-casing and turning "_" and " " into "-".
CARD_TYPE_ALIASES = {
    "master-card": "mastercard",
    "american-express": "amex",
    "americanexpress": "amex",
    "diners": "diners-club",
    "dinersclub": "diners-club",
    "diners-club-international": "diners-club",
    "en-route": "enroute",
}


def card_type(name: str) -> str:
    """A card type as <Pay> names it (an unknown name comes back folded, for the error message)."""
    folded = re.sub(r"[\s_]+", "-", name.strip().lower())
    return CARD_TYPE_ALIASES.get(folded, folded)


def card_types(value: Any) -> list[str]:
    """The card types of a space-, comma- or list-separated value, as <Pay> names them."""
    items = value if isinstance(value, list) else re.split(r"[\s,]+", str(value or ""))
    return [card_type(str(item)) for item in items if str(item).strip()]
# Result values Twilio posts to the Pay action; anything but success is a failure.
PAY_RESULTS = (
    "success", "payment-connector-error", "too-many-failed-attempts", "caller-interrupted-with-star",
    "caller-hung-up", "validation-error", "input-timeout", "internal-error",
)
# Only these Pay action fields are kept (never the card number in clear, expiry or CVC).
KEPT_FIELDS = ("Result", "PaymentConfirmationCode", "PaymentCardType", "PaymentToken", "ProfileId",
               "PaymentError", "PaymentMethod", "ConnectorError")


def mask_card_number(value: str) -> str:
    """Mask every digit but the last four (Twilio already masks; this is a guard)."""
    value = value[:40]
    total = sum(c.isdigit() for c in value)
    out, seen = [], 0
    for char in value:
        if char.isdigit():
            seen += 1
            out.append(char if seen > total - 4 else "x")
        else:
            out.append(char)
    return "".join(out)


def parse_amount(text: str) -> Decimal | None:
    """A charge amount (non-negative, at most 2 decimals) or None when malformed."""
    text = text.strip()
    if text == "":
        return Decimal(0)
    if not AMOUNT_RE.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@register
class Pay(NodeType):
    """Take a card payment (or tokenize a card) over the keypad with Twilio `<Pay>`."""

    type_name = "pay"
    label = "Pay"
    icon = "credit-card"
    category = "Payments"
    description = "Collect a card payment through a Twilio Pay connector (PCI mode required)."
    fields = (
        Field("prompt", "prompt", "Prompt", default=None, help="Said before Twilio asks for the card."),
        Field("charge_amount", "template", "Amount", default="",
              help="e.g. 12.50 or {{ vars.amount }}; empty or 0 stores the card (token) without charging."),
        Field("currency", "text", "Currency", default="usd"),
        Field("description", "template", "Description", default=""),
        Field("payment_connector", "text", "Pay connector", default="Default"),
        Field("payment_method", "select", "Method", default="credit-card", choices=("credit-card", "ach-debit")),
        Field("token_type", "select", "Token type", default="reusable",
              choices=("one-time", "reusable", "payment-method")),
        Field("valid_card_types", "text", "Card types", default="visa mastercard amex",
              help="Space-separated: " + " ".join(CARD_TYPES) + " (Studio's master-card is mastercard)"),
        Field("max_attempts", "number", "Attempts", default=1, min=1, max=3),
        Field("timeout", "number", "Seconds to wait per entry", default=5, min=1, max=60, unit="s"),
        Field("postal_code", "bool", "Ask postal code", default=False),
        Field("security_code", "bool", "Ask security code", default=True),
        Field("language", "text", "Language", default=""),
        Field("bank_account_type", "select", "Bank account type", default="consumer-checking",
              choices=BANK_ACCOUNT_TYPES, help="For ACH debits."),
        Field("min_postal_code_length", "number", "Shortest postal code", default=0, min=0, max=10,
              help="0: any length."),
    )
    fixed_outcomes = ("success", "failed")
    waits_for = ("payment",)
    results = (*KEPT_FIELDS, "PaymentCardNumber", "reason")
    summary = (*prompt_summary("prompt"), "Charge {charge_amount} {currency|upper}", "Store a card")

    def validate(self, node: Node) -> Iterable[Issue]:
        """Amount (when not a template), currency and card types."""
        amount = node.props.get("charge_amount")
        if isinstance(amount, (int, float)) and not isinstance(amount, bool):
            amount = str(amount)
        if isinstance(amount, str) and not is_template(amount) and parse_amount(amount) is None:
            yield error("invalid_amount", f"{amount!r} is not an amount like 12.50.", node.id, "charge_amount")
        currency = node.props.get("currency")
        if isinstance(currency, str) and currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
            yield error("invalid_currency", f"{currency!r} is not a 3-letter currency code.", node.id, "currency")
        cards = node.props.get("valid_card_types")
        if isinstance(cards, str):
            unknown = [c for c in card_types(cards) if c not in CARD_TYPES]
            if unknown or not card_types(cards):
                yield error("invalid_card_type", f"Unknown card types: {' '.join(unknown) or '(none)'}.",
                            node.id, "valid_card_types")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Render the amount and wait on `<Pay>` (a bad amount fails at once)."""
        raw = self.prop(node, "charge_amount")
        amount = parse_amount(rt.render(str(raw)) if raw is not None else "")
        if amount is None:
            rt.set_result(node.id, {"Result": "invalid-amount", "reason": "invalid-amount"})
            return Route("failed", {"reason": "invalid-amount"})
        add_prompt(rt, rt.response, self.prop(node, "prompt"))
        attrs: dict[str, Any] = {
            "input": "dtmf",
            "action": rt.url("ivr-payment-status"),
            "payment_connector": self.prop(node, "payment_connector"),
            "payment_method": self.prop(node, "payment_method"),
            "max_attempts": int(self.prop(node, "max_attempts")),
            "timeout": int(self.prop(node, "timeout")),
            "postal_code": bool(self.prop(node, "postal_code")),
            "security_code": bool(self.prop(node, "security_code")),
        }
        if amount > 0:
            attrs["charge_amount"] = f"{amount:.2f}"
            attrs["currency"] = str(self.prop(node, "currency")).lower()
        else:
            attrs["token_type"] = self.prop(node, "token_type")
        if self.prop(node, "payment_method") == "credit-card":
            attrs["valid_card_types"] = " ".join(card_types(self.prop(node, "valid_card_types")))
        description = rt.render(self.prop(node, "description")).strip()
        if description:
            attrs["description"] = description
        if self.prop(node, "language"):
            attrs["language"] = self.prop(node, "language")
        if self.prop(node, "payment_method") == "ach-debit":
            attrs["bank_account_type"] = self.prop(node, "bank_account_type")
        if attrs["postal_code"] and int(self.prop(node, "min_postal_code_length") or 0) > 0:
            attrs["min_postal_code_length"] = int(self.prop(node, "min_postal_code_length"))
        rt.response.pay(**attrs)
        return Wait({"amount": attrs.get("charge_amount", "0")})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """`success` when Twilio's Result is success, else `failed` with the reason kept."""
        params = event.params
        result = {k: str(params[k]) for k in KEPT_FIELDS if params.get(k) not in (None, "")}
        if params.get("PaymentCardNumber"):
            result["PaymentCardNumber"] = mask_card_number(str(params["PaymentCardNumber"]))
        outcome = "success" if result.get("Result") == "success" else "failed"
        if outcome == "failed":
            result["reason"] = result.get("Result") or "no-result"
        rt.set_result(node.id, result)
        return Route(outcome, {"result": result.get("Result", ""), "reason": result.get("reason", "")})
