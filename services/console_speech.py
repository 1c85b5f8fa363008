"""What a caller would hear and see from a TwiML document, as labelled lines for the test console."""

from __future__ import annotations

import xml.etree.ElementTree as ET

Line = tuple[str, str]  # (kind, text): kind is say, play, pause, wait, record, pay, dial, queue, ai, hangup, sms


def _text(element: ET.Element) -> str:
    return " ".join((element.text or "").split())


def heard_from_twiml(twiml: str) -> list[Line]:
    """One line per audible or call-control verb, in document order (Redirects are skipped)."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return [("error", "The flow answered something that is not TwiML.")]
    lines: list[Line] = []
    _walk(root, lines)
    return lines


def _walk(parent: ET.Element, lines: list[Line]) -> None:
    for el in parent:
        tag = el.tag
        if tag == "Say":
            loop = el.get("loop")
            lines.append(("say", _text(el) + (f" (×{loop})" if loop and loop not in ("1", "0") else "")))
        elif tag == "Play":
            lines.append(("play", _text(el) or f"keys {el.get('digits', '')}"))
        elif tag == "Pause":
            lines.append(("pause", f"{el.get('length', '1')} s of silence"))
        elif tag == "Gather":
            _walk(el, lines)
            inputs = " or ".join("keypad" if i == "dtmf" else i for i in el.get("input", "dtmf").split())
            digits = f", {el.get('numDigits')} digit(s)" if el.get("numDigits") else ""
            lines.append(("wait", f"Waits for {inputs}{digits} ({el.get('timeout', '5')} s)"))
        elif tag == "Record":
            lines.append(("record", f"Beep — records up to {el.get('maxLength', '3600')} s"))
        elif tag == "Pay":
            _walk(el, lines)
            amount = el.get("chargeAmount")
            charge = f" to charge {amount} {el.get('currency', '').upper()}" if amount else " to store the card"
            lines.append(("pay", f"Asks for card details{charge}"))
        elif tag == "Dial":
            targets = [f"{child.tag.lower()} {_text(child)}" for child in el] or [_text(el)]
            lines.append(("dial", f"Dials {', '.join(targets)}"))
        elif tag == "Enqueue":
            lines.append(("queue", f"Waits in queue “{_text(el)}”"))
        elif tag == "Connect":
            stream = el.find("Stream")
            lines.append(
                ("ai", f"Connects to the AI agent {stream.get('url', '') if stream is not None else ''}".rstrip())
            )
        elif tag == "Hangup":
            lines.append(("hangup", "Hangs up"))
        elif tag == "Reject":
            lines.append(("hangup", "Rejects the call"))
        elif tag in ("Sms", "Message"):
            lines.append(("sms", f"Texts “{_text(el)}”"))
