"""What a caller would hear and see from a TwiML document, as labelled lines for the test console.

The TwiML is read by the caller simulator's parser (`sim.twiml`), the same core that plays Twilio
in the end-to-end tests, so the console shows exactly what a simulated call would follow.
"""

from __future__ import annotations

from sim import verbs as v
from sim.twiml import TwimlError, parse_twiml

Line = tuple[str, str]  # (kind, text): kind is say, play, pause, wait, record, pay, dial, queue, ai, hangup, sms


def heard_from_twiml(twiml: str) -> list[Line]:
    """One line per audible or call-control verb, in document order (Redirects are skipped)."""
    try:
        parsed = parse_twiml(twiml)
    except TwimlError as err:
        return [("error", f"The flow answered something that is not valid TwiML: {err}")]
    lines: list[Line] = []
    for verb in parsed:
        _describe(verb, lines)
    return lines


def _prompt(verb, lines: list[Line]) -> None:
    if isinstance(verb, v.Say):
        lines.append(("say", verb.text + (f" (×{verb.loop})" if verb.loop not in (0, 1) else "")))
    elif isinstance(verb, v.Play):
        lines.append(("play", verb.url or f"keys {verb.digits or ''}"))
    elif isinstance(verb, v.Pause):
        lines.append(("pause", f"{verb.length} s of silence"))


def _describe(verb, lines: list[Line]) -> None:
    if isinstance(verb, v.Say | v.Play | v.Pause):
        _prompt(verb, lines)
    elif isinstance(verb, v.Gather):
        for child in verb.children:
            _prompt(child, lines)
        inputs = " or ".join("keypad" if i == "dtmf" else i for i in verb.input)
        digits = f", {verb.num_digits} digit(s)" if verb.num_digits else ""
        lines.append(("wait", f"Waits for {inputs}{digits} ({verb.timeout} s)"))
    elif isinstance(verb, v.Record):
        lines.append(("record", f"Beep — records up to {verb.max_length} s"))
    elif isinstance(verb, v.Pay):
        for child in verb.prompts:
            _prompt(child, lines)
        charge = " to store the card"
        if verb.charge_amount:
            charge = f" to charge {verb.charge_amount} {verb.currency.upper()}"
        lines.append(("pay", f"Asks for card details{charge}"))
    elif isinstance(verb, v.Dial):
        targets = [f"{noun.kind.lower()} {noun.value}" for noun in verb.nouns]
        lines.append(("dial", f"Dials {', '.join(targets)}"))
    elif isinstance(verb, v.Enqueue):
        lines.append(("queue", f"Waits in queue “{verb.name}”"))
    elif isinstance(verb, v.Connect):
        stream = next((n for n in verb.nouns if n.kind == "Stream"), None)
        url = stream.attrs.get("url", "") if stream is not None else ""
        lines.append(("ai", f"Connects to the AI agent {url}".rstrip()))
    elif isinstance(verb, v.Hangup):
        lines.append(("hangup", "Hangs up"))
    elif isinstance(verb, v.Reject):
        lines.append(("hangup", "Rejects the call"))
    elif isinstance(verb, v.Sms):
        lines.append(("sms", f"Texts “{verb.body}”"))
