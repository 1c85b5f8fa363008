"""Twilio Studio import and export.

- `detect_format(data)` tells a Studio Flow Definition from a Phonetree definition.
- `import_studio(data) -> (definition, report)` maps Studio widgets to Phonetree nodes.
- `export_studio(definition) -> dict` writes a Phonetree definition as Studio JSON.

The mapping tables (widget → node type, event → outcome) are in `flows.studio.tables`.
"""

from flows.studio.exporter import export_studio
from flows.studio.importer import import_studio
from flows.studio.shape import STUDIO_WIDGET_TYPES, detect_format

__all__ = ["STUDIO_WIDGET_TYPES", "detect_format", "export_studio", "import_studio"]
