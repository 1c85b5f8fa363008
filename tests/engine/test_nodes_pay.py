"""pay: success, failure reasons, tokenizing, and no card number kept."""

from __future__ import annotations

import json

from flows.nodes.pay import mask_card_number
from tests.engine.helpers import Call, bye, flow, node, outcomes

PAY_FLOW = flow(
    node("amount", "set_variables", {"assignments": [{"name": "due", "value": "42.5"}]}, next="pay"),
    node("pay", "pay", {"prompt": "Let's take your payment.", "charge_amount": "{{ vars.due }}",
                        "description": "Invoice {{ call.from }}", "max_attempts": 2},
         success="ok", failed="ko"),
    node("ok", "hangup", {"say": "Paid, confirmation {{ widgets.pay.PaymentConfirmationCode }}"}),
    node("ko", "hangup", {"say": "Payment failed: {{ widgets.pay.reason }}"}),
)


def test_pay_renders_pay_verb() -> None:
    result = Call(PAY_FLOW).start()
    xml = result.twiml
    assert '<Pay action="https://ivr.example.com/connect/webhook/twilio/ivr-payment-status?' in xml
    for attr in ('chargeAmount="42.50"', 'currency="usd"', 'input="dtmf"', 'maxAttempts="2"',
                 'paymentConnector="Default"', 'validCardTypes="visa mastercard amex"',
                 'description="Invoice +14155550123"'):
        assert attr in xml
    assert "tokenType" not in xml
    assert xml.index("take your payment") < xml.index("<Pay")
    assert result.state["waiting"]["expects"] == ["payment"]


def test_pay_success_masks_the_card() -> None:
    call = Call(PAY_FLOW)
    call.start()
    result = call.send("payment", Result="success", PaymentConfirmationCode="ch_123",
                       PaymentCardNumber="4111111111111111", PaymentCardType="visa",
                       ExpirationDate="1230", SecurityCode="123", PaymentCardPostalCode="94107")
    assert outcomes(result) == [("pay", "success"), ("ok", None)]
    kept = result.state["results"]["pay"]
    assert kept["PaymentCardNumber"] == "xxxxxxxxxxxx1111"
    assert "ExpirationDate" not in kept and "SecurityCode" not in kept
    dumped = json.dumps(result.state) + json.dumps([s.to_dict() for s in result.steps]) + result.twiml
    assert "4111111111111111" not in dumped and "1230" not in dumped
    assert "confirmation ch_123" in result.twiml


def test_pay_failed_keeps_reason() -> None:
    for reason in ("payment-connector-error", "too-many-failed-attempts", "caller-interrupted-with-star"):
        call = Call(PAY_FLOW)
        call.start()
        result = call.send("payment", Result=reason, PaymentError="card declined",
                           PaymentCardNumber="xxxx-xxxx-xxxx-1111")
        assert outcomes(result) == [("pay", "failed"), ("ko", None)]
        assert result.state["results"]["pay"]["reason"] == reason
        assert result.state["results"]["pay"]["PaymentCardNumber"] == "xxxx-xxxx-xxxx-1111"
        assert f"Payment failed: {reason}" in result.twiml


def test_pay_invalid_amount_fails_without_waiting() -> None:
    definition = flow(node("pay", "pay", {"charge_amount": "{{ 'lots' }}"}, failed="ko"), bye("ko"))
    result = Call(definition).start()
    assert outcomes(result) == [("pay", "failed"), ("ko", None)]
    assert result.state["results"]["pay"]["reason"] == "invalid-amount"


def test_pay_without_amount_tokenizes() -> None:
    result = Call(flow(node("pay", "pay", {"token_type": "one-time"}))).start()
    assert 'tokenType="one-time"' in result.twiml and "chargeAmount" not in result.twiml


def test_mask_card_number() -> None:
    assert mask_card_number("4111 1111 1111 1234") == "xxxx xxxx xxxx 1234"
    assert mask_card_number("xxxx-xxxx-xxxx-4242") == "xxxx-xxxx-xxxx-4242"
