"""Shared fixtures. See tests/plugins/ for the database, browser and Twilio stand-in fixtures."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "WARNING")

pytest_plugins = [
    "tests.plugins.db",
    "tests.plugins.factories",
    "tests.plugins.browser",
    "tests.plugins.twilio_fake",
    "tests.plugins.upstream",
    "tests.plugins.secret_scan",
]
