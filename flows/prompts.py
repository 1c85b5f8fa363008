"""Prompts: what the caller hears, as ``{"say": ...}`` or ``{"play": url}``, rendered to TwiML."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twilio.twiml import TwiML

    from flows.runtime import Runtime


def normalize_prompt(value: Any) -> dict[str, Any] | None:
    """A prompt as a dict (a bare string means ``{"say": string}``), or None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return {"say": value}
    if isinstance(value, dict) and (value.get("say") or value.get("play")):
        return value
    return None


def prompt_is_valid(value: Any) -> bool:
    """True when `value` is empty or a well-formed prompt."""
    if value is None or value == "" or isinstance(value, str):
        return True
    if not isinstance(value, dict):
        return False
    say, play = value.get("say"), value.get("play")
    if say is not None and not isinstance(say, str):
        return False
    if play is not None and not isinstance(play, str):
        return False
    loop = value.get("loop")
    return loop is None or (isinstance(loop, int) and not isinstance(loop, bool) and 0 <= loop <= 10)


def prompt_templates(value: Any) -> list[tuple[str, str]]:
    """(key, template) pairs of a prompt, for validation."""
    prompt = normalize_prompt(value)
    if prompt is None:
        return []
    return [(k, prompt[k]) for k in ("say", "play") if isinstance(prompt.get(k), str)]


def add_prompt(rt: Runtime, parent: TwiML, value: Any) -> bool:
    """Append the prompt's `<Say>`/`<Play>` to `parent`; returns False when nothing was said.

    In a messaging session the prompt is sent instead: its text as the body, its audio URL as
    media (`send_prompt`).
    """
    prompt = normalize_prompt(value)
    if prompt is None:
        return False
    if rt.messaging:
        return send_prompt(rt, prompt)
    loop = prompt.get("loop")
    added = False
    if prompt.get("play"):
        url = rt.render(prompt["play"]).strip()
        if url:
            kwargs = {"loop": loop} if loop not in (None, 1) else {}
            parent.play(url, **kwargs)
            added = True
    if prompt.get("say"):
        text = rt.render(prompt["say"]).strip()
        if text:
            say_text(rt, parent, text, prompt.get("voice"), prompt.get("language"), loop)
            added = True
    return added


def say_text(
    rt: Runtime,
    parent: TwiML,
    text: str,
    voice: str | None = None,
    language: str | None = None,
    loop: int | None = None,
) -> None:
    """Append one `<Say>` with the flow's default voice and language unless given."""
    kwargs: dict[str, Any] = {
        "voice": voice or rt.settings.voice,
        "language": language or rt.settings.language,
    }
    if loop not in (None, 1):
        kwargs["loop"] = loop
    parent.say(text, **kwargs)


def send_prompt(rt: Runtime, value: Any) -> bool:
    """Send a prompt as a message to the contact (text body, audio URL as media); False when empty.

    The provider's error propagates (a node with a ``failed`` outcome catches it; else the
    conversation ends ``not_sent``: `flows.interpreter`).
    """
    prompt = normalize_prompt(value)
    if prompt is None:
        return False
    body = rt.render(prompt.get("say") or "").strip()
    media = rt.render(prompt.get("play") or "").strip()
    if not body and not media:
        return False
    rt.send_message(body, [media] if media else [])
    return True
