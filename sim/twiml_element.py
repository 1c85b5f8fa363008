"""One TwiML element with typed attribute readers, and the error they raise.

Used by `sim.twiml`; kept apart so that the parser module holds only the verbs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

__all__ = ["KEYS", "Element", "TwimlError"]

KEYS = set("0123456789*#")


class TwimlError(ValueError, AssertionError):
    """A document Twilio would reject. Also an AssertionError, so tests fail plainly."""


class Element:
    """One TwiML element with typed attribute readers that report where they failed."""

    def __init__(self, elem: ET.Element, where: str) -> None:
        self.elem = elem
        self.where = where

    def fail(self, message: str) -> TwimlError:
        """An error that names where in the document it happened."""
        return TwimlError(f"{self.where}: {message}")

    def text(self) -> str:
        """The element's text, children's text included, whitespace collapsed."""
        return " ".join("".join(self.elem.itertext()).split())

    def attr(self, name: str, default: str | None = None) -> str | None:
        """A string attribute, stripped; `default` when absent."""
        value = self.elem.get(name)
        return default if value is None else value.strip()

    def attr_int(self, name: str, default: int | None, minimum: int = 0) -> int | None:
        """A whole-number attribute of at least `minimum`; `default` when absent or empty."""
        raw = self.elem.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise self.fail(f"attribute {name}={raw!r} is not a whole number") from None
        if value < minimum:
            raise self.fail(f"attribute {name}={raw!r} must be at least {minimum}")
        return value

    def attr_bool(self, name: str, default: bool) -> bool:
        """A true/false attribute (any case); `default` when absent."""
        raw = self.elem.get(name)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise self.fail(f"attribute {name}={raw!r} must be true or false")
        return lowered == "true"

    def method(self, name: str = "method") -> str:
        """An HTTP method attribute: GET or POST, POST when absent."""
        raw = (self.elem.get(name) or "POST").strip().upper()
        if raw not in ("GET", "POST"):
            raise self.fail(f"attribute {name}={self.elem.get(name)!r} must be GET or POST")
        return raw

    def words(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A list attribute split on spaces or commas; `default` when absent."""
        raw = self.elem.get(name)
        return default if raw is None else tuple(re.split(r"[\s,]+", raw.strip()))

    def children(self) -> list[Element]:
        """The child elements, each labelled with its place in the document."""
        return [Element(child, f"{self.where}/<{child.tag}>[{i + 1}]") for i, child in enumerate(self.elem)]

    def no_children(self) -> None:
        """Fail unless the element is empty (no children, no text)."""
        if len(self.elem) or (self.elem.text or "").strip():
            raise self.fail("must be empty")
