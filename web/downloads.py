"""Download responses whose file name may be in any script.

HTTP header values travel as Latin-1 bytes: a raw "日本語のフロー.json" in Content-Disposition makes
gunicorn answer 500 and leaves werkzeug's dev server hanging. Every attachment therefore names its file
twice (RFC 6266 / RFC 5987): an ASCII ``filename`` for old clients and ``filename*=UTF-8''…`` with the
real name, percent-encoded, for every current browser.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response
from werkzeug.http import dump_options_header

# RFC 5987 attr-char beyond ALPHA / DIGIT: what may stay unencoded in filename*.
_ATTR_CHARS = "!#$&+-.^_`|~"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/]+")


def slug(text: str, *, ascii_only: bool = False) -> str:
    """Letters and digits of ``text`` (any script, or ASCII only), lower case, other runs as one hyphen."""
    if ascii_only:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"-{2,}", "-", "".join(c if c.isalnum() else "-" for c in text.lower())).strip("-")


def content_disposition(filename: str, fallback: str | None = None, disposition: str = "attachment") -> str:
    """A Content-Disposition value that is pure ASCII whatever ``filename`` holds.

    ``fallback`` is the ASCII name for clients without RFC 5987 (default: ``filename`` reduced to
    ASCII, or "download"); control characters, quotes, backslashes and slashes never reach either name.
    """
    name = _UNSAFE.sub("-", filename).strip() or "download"
    simple = _UNSAFE.sub("-", fallback if fallback is not None else name)
    simple = unicodedata.normalize("NFKD", simple).encode("ascii", "ignore").decode("ascii").strip() or "download"
    options: dict[str, str] = {"filename": simple}
    if name != simple:
        options["filename*"] = f"UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return dump_options_header(disposition, options)


def attachment(body: str | bytes, filename: str, mimetype: str, fallback: str | None = None) -> Response:
    """A download response named ``filename`` (any script; see ``content_disposition``)."""
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": content_disposition(filename, fallback)})
