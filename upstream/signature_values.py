"""Form fields as twilio's `RequestValidator` reads them fastest, for signing and for checking.

The validator asks a multi-valued form for ``getall(name)``; a werkzeug MultiDict or a plain
dict otherwise costs it two caught exceptions per field. No Flask, no database: the caller
simulator signs with it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SignedValues:
    """The names of the fields, and ``getall(name)``: every value of a name, in order."""

    __slots__ = ("_params",)

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._params = params

    def __iter__(self):
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def getall(self, name: str) -> list[str]:
        """Every value of the field `name`."""
        getlist = getattr(self._params, "getlist", None)
        if getlist is not None:
            return getlist(name)
        value = self._params[name]
        return list(value) if isinstance(value, list | tuple) else [value]
