"""A contact's opt-out from texts: the keywords Twilio acts on, read from an inbound message.

When a contact texts one of Twilio's opt-out keywords as the whole message (STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END, QUIT; Advanced Opt-Out adds OPTOUT and REVOKE, and tells us with
``OptOutType=STOP``), Twilio blocks every later text to them from that sender (error 21610) until
they text START. A text conversation that receives one therefore ends ``opted_out`` at once,
without running the waiting node (its retry prompt would only be refused); see `flows.interpreter`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})


def opt_out_keyword(params: Mapping[str, Any]) -> str | None:
    """The opt-out keyword an inbound message is (upper case), or None. Twilio's ``OptOutType``
    of ``STOP`` counts whatever the body (a keyword the account added); else the whole trimmed
    body must be a default keyword, in any case (``stop``, `` Stop ``), as Twilio matches them."""
    body = str(params.get("Body") or "").strip().upper()
    if str(params.get("OptOutType") or "").strip().upper() == "STOP":
        return body[:32] or "STOP"
    return body if body in OPT_OUT_KEYWORDS else None


def opt_out_word(text: str) -> str | None:
    """The opt-out keyword `text` is as a whole reply (upper case), or None: what a menu keyword or
    an expected reply can never be, since Twilio opts the contact out before the flow sees it.
    Case and accents do not count (a menu matches ``Stóp`` as ``stop``)."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip())
    word = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return word if word in OPT_OUT_KEYWORDS else None
