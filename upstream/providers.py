"""The vendor providers Phonetree knows, by type name, and the running app's vendor settings."""

from __future__ import annotations

from typing import Any

from flask import current_app

from upstream.errors import UnknownIntegrationType
from upstream.provider import Provider, ProviderSettings
from upstream.twilio_provider import TwilioProvider


class UpstreamRegistry:
    """Provider classes by type name (``TwilioProvider`` ...)."""

    def __init__(self, providers: tuple[type[Provider], ...] = ()) -> None:
        self._types: dict[str, type[Provider]] = {}
        for cls in providers:
            self.register(cls)

    def register(self, cls: type[Provider]) -> type[Provider]:
        """Add a provider class under its ``type_name`` (usable as a class decorator)."""
        self._types[cls.type_name] = cls
        return cls

    def get(self, type_name: Any) -> type[Provider]:
        """The provider class for a type name; raises UnknownIntegrationType."""
        cls = self._types.get(type_name) if isinstance(type_name, str) else None
        if cls is None:
            raise UnknownIntegrationType(str(type_name), self.names())
        return cls

    def names(self) -> list[str]:
        """Registered type names."""
        return sorted(self._types)


provider_types = UpstreamRegistry((TwilioProvider,))


def provider_settings() -> ProviderSettings:
    """The running app's vendor settings (base URL, timeout)."""
    return ProviderSettings.from_config(current_app.config)
