"""What a caller would hear and see from a TwiML document, as lines for the test console."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def _text(element: ET.Element) -> str:
    return " ".join((element.text or "").split())


def heard_from_twiml(twiml: str) -> list[str]:
    """One line per audible or call-control verb, in document order (Redirects are skipped)."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return ["(the flow answered something that is not TwiML)"]
    lines: list[str] = []
    _walk(root, lines)
    return lines


def _walk(parent: ET.Element, lines: list[str]) -> None:
    for el in parent:
        tag = el.tag
        if tag == "Say":
            loop = el.get("loop")
            suffix = f" (×{loop})" if loop and loop not in ("1", "0") else ""
            lines.append(f"🔊 {_text(el)}{suffix}")
        elif tag == "Play":
            lines.append(f"♪ plays {_text(el) or el.get('digits', '')}")
        elif tag == "Pause":
            lines.append(f"… pause {el.get('length', '1')} s")
        elif tag == "Gather":
            _walk(el, lines)
            inputs = el.get("input", "dtmf").replace("dtmf", "keypad").replace(" ", " or ")
            digits = f", {el.get('numDigits')} digit(s)" if el.get("numDigits") else ""
            lines.append(f"⌨ waits for {inputs}{digits} ({el.get('timeout', '5')} s)")
        elif tag == "Record":
            lines.append(f"⏺ beep — recording (up to {el.get('maxLength', '3600')} s)")
        elif tag == "Pay":
            _walk(el, lines)
            amount = el.get("chargeAmount")
            charge = f" to charge {amount} {el.get('currency', '').upper()}" if amount else ""
            lines.append(f"💳 asks for card details{charge}")
        elif tag == "Dial":
            targets = [f"{child.tag.lower()} {_text(child)}" for child in el] or [_text(el)]
            lines.append(f"☎ dials {', '.join(targets)}")
        elif tag == "Enqueue":
            lines.append(f"⏳ waits in queue “{_text(el)}”")
        elif tag == "Connect":
            stream = el.find("Stream")
            lines.append(f"🤖 connects to the AI agent {stream.get('url', '') if stream is not None else ''}".rstrip())
        elif tag == "Hangup":
            lines.append("✆ hangs up")
        elif tag == "Reject":
            lines.append("✆ rejects the call")
        elif tag in ("Sms", "Message"):
            lines.append(f"✉ texts “{_text(el)}”")
