"""What every vendor provider declares and does: its config fields, their checks, and its operations.

A second vendor is one subclass of ``Provider`` registered with the ``UpstreamRegistry``: it
lists its ``fields`` (public ones are stored as JSON, secret ones encrypted), may add
cross-field rules in ``check_config``, and implements ``verify`` and its operations.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from upstream.errors import IntegrationConfigError

MAX_VALUE_LENGTH = 512


@dataclass(frozen=True)
class ConfigField:
    """One config field of a provider, as the API names it and the settings page shows it."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    pattern: str | None = None
    format_hint: str = ""
    help: str = ""

    def check(self, value: str) -> None:
        """Raise IntegrationConfigError when a non-empty value is malformed (never quoting the value)."""
        if len(value) > MAX_VALUE_LENGTH:
            raise IntegrationConfigError(
                f"{self.label} is too long (at most {MAX_VALUE_LENGTH} characters).", self.name)
        if any(ch.isspace() for ch in value):
            raise IntegrationConfigError(f"{self.label} must not contain spaces or line breaks.", self.name)
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise IntegrationConfigError(f"{self.label} must be {self.format_hint}.", self.name)


@dataclass(frozen=True)
class ProviderSettings:
    """Process-wide settings a provider needs: where the vendor's API is and how long to wait."""

    base_url: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ProviderSettings:
        """Read TWILIO_API_BASE_URL and TWILIO_TIMEOUT_SECONDS from a Flask config."""
        return cls(config.get("TWILIO_API_BASE_URL") or None, float(config.get("TWILIO_TIMEOUT_SECONDS") or 10))


class Provider(ABC):
    """A vendor integration bound to one organisation's decrypted config."""

    type_name: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[ConfigField, ...]]
    # API operation name (as in POST /upstream/test/{type}/{operation}) -> method name; read-only ones.
    test_operations: ClassVar[dict[str, str]] = {}

    def __init__(self, org_id: int, config: Mapping[str, str], secrets: Mapping[str, str],
                 settings: ProviderSettings) -> None:
        self.org_id = org_id
        self.config = dict(config)
        self._secrets = dict(secrets)
        self.settings = settings

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback
        return f"<{type(self).__name__} org={self.org_id} secrets={sorted(self._secrets)}>"

    @classmethod
    def labels(cls, names: list[str]) -> str:
        """The fields' labels as people know them ("Account SID"), joined for a sentence."""
        by_name = {f.name: f.label for f in cls.fields}
        return ", ".join(by_name.get(n, n) for n in names)

    @classmethod
    def public_names(cls) -> list[str]:
        """Names of the fields stored in clear (returned by the API)."""
        return [f.name for f in cls.fields if not f.secret]

    @classmethod
    def secret_names(cls) -> list[str]:
        """Names of the fields stored encrypted (never returned)."""
        return [f.name for f in cls.fields if f.secret]

    @classmethod
    def normalise(
        cls, config: Any, stored_public: Mapping[str, str] | None = None,
        stored_secrets: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Validate a submitted config and split it into (public, secrets).

        A blank or absent secret keeps the stored one; a blank public field is cleared.
        Raises IntegrationConfigError with a message that names the field and never its value.
        """
        if not isinstance(config, Mapping):
            raise IntegrationConfigError("config must be a JSON object of field names to strings.", "config")
        known = {f.name for f in cls.fields}
        unknown = sorted(str(k)[:40] for k in config if k not in known)
        if unknown:
            raise IntegrationConfigError(
                f"Unknown config field(s) {', '.join(unknown)}; expected {', '.join(f.name for f in cls.fields)}.",
                unknown[0],
            )
        stored_public, stored_secrets = dict(stored_public or {}), dict(stored_secrets or {})
        public: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for f in cls.fields:
            raw = config.get(f.name)
            if raw is not None and not isinstance(raw, str):
                raise IntegrationConfigError(f"{f.label} must be text.", f.name)
            value = (raw or "").strip()
            if value:
                f.check(value)
            if f.secret:
                value = value or stored_secrets.get(f.name, "")
                if value:
                    secrets[f.name] = value
            elif value:
                public[f.name] = value
        cls.check_config(public, secrets, stored_public, {k: bool(v) for k, v in stored_secrets.items()}, config)
        for f in cls.fields:
            present = public.get(f.name) if not f.secret else secrets.get(f.name)
            if f.required and not present:
                raise IntegrationConfigError(f"{f.label} is required.", f.name)
        return public, secrets

    @classmethod
    def check_config(cls, public: dict[str, str], secrets: dict[str, str], stored_public: dict[str, str],
                     stored_secret_set: dict[str, bool], submitted: Mapping[str, Any]) -> None:
        """Cross-field rules; may drop kept secrets that no longer fit. Override in providers."""
        return None

    @abstractmethod
    def verify(self) -> None:
        """Check the credentials with the vendor; raise CredentialsRejected or UpstreamError."""

    def run_test_operation(self, operation: str, params: Mapping[str, Any]) -> Any:
        """Run one read-only operation by its API name (see ``test_operations``) with JSON params."""
        method = self.test_operations.get(operation)
        if method is None:
            raise IntegrationConfigError(
                f"Unknown operation {operation[:60]!r}; available: {', '.join(self.test_operations)}.", "operation"
            )
        return getattr(self, method)(**self.test_params(operation, params))

    def test_params(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for a test operation from the request's JSON; override to accept some."""
        if params:
            raise IntegrationConfigError(f"{operation} takes no parameters.", "params")
        return {}
