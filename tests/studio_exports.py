"""The real Studio exports of ../shared/studio-flows and the placeholders their authors left in them.

Several exports are templates: their workflow SIDs and Function URLs are placeholders
("YOUR-WORKFLOW-SID", "<ANNOUNCEMENT_FUNCTION_URL>", "${WORKFLOW_SID}", "WWXXXX..."). Imported,
each is an error on its node until the user gives the real value, which `fill_in` does as a
user would in the designer.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from flows.formats import is_template, url_valid
from flows.nodes.connect import WORKFLOW_SID_RE
from flows.studio.map_other import TEXTED_FLEX

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "studio-flows"
REAL_EXPORTS = sorted(SHARED.glob("*.json"))


def placeholders_on_calls(report: list[dict[str, str]], types: set[str]) -> list[dict[str, str]]:
    """The report's unsupported rows of those widget types, but a send-to-flex that text
    conversations reach (a Flex chat task: Phonetree's queue takes calls only)."""
    return [r for r in report if r["status"] == "unsupported" and r["type"] in types and TEXTED_FLEX not in r["detail"]]

# (code, node id, field) of each placeholder error, per export.
PLACEHOLDERS: dict[str, list[tuple[str, str, str]]] = {
    "09-callback-voicemail-flex.json": [
        ("invalid_workflow", "send_callback_to_flex", "workflow_sid"),
        ("invalid_workflow", "send_to_flex_queue", "workflow_sid"),
        ("invalid_workflow", "send_voicemail_to_flex", "workflow_sid"),
    ],
    "20-direct-extension-ivr.json": [("invalid_workflow", "SendToFlex", "workflow_sid")],  # WWXXXX...
    "24-flex-ivr-announcement.json": [
        ("invalid_url", "FetchAnnouncement", "url"),  # <ANNOUNCEMENT_FUNCTION_URL>
        ("invalid_workflow", "TransferToFlex", "workflow_sid"),
    ],
    "25-schedule-check-flex.json": [("invalid_workflow", "send_to_flex", "workflow_sid")],  # ${WORKFLOW_SID}
    "33-volunteer-center-voice-sms.json": [
        ("required", "FlexCall", "workflow_sid"),  # FlexSMS: text conversations reach it, a placeholder
    ],
}
WORKFLOW = "WW0123456789abcdef0123456789abcdef"


def fill_in(definition: dict[str, Any], workflow: str = WORKFLOW, url: str = "https://example.com/f") -> dict[str, Any]:
    """The definition with each placeholder workflow SID and Function URL replaced, as a user would."""
    fixed = copy.deepcopy(definition)
    for node in fixed["nodes"]:
        props = node["props"]
        sid = str(props.get("workflow_sid") or "")
        if props.get("target") == "workflow" and not (is_template(sid) or WORKFLOW_SID_RE.fullmatch(sid)):
            props["workflow_sid"] = workflow
        if node["type"] == "run_function" and not url_valid(str(props.get("url") or "")):
            props["url"] = url
    return fixed
