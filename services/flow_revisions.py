"""Flows and their revisions: drafts with optimistic concurrency, publish, rollback, import/export.

Published revisions are immutable, so their definitions are cached per process by revision id
(`caches.PUBLISHED_DEFINITIONS`).
"""

from __future__ import annotations

import copy

import phonenumbers
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import defer, selectinload

from caches import PUBLISHED_DEFINITIONS, clear_all
from extensions import db
from models import Flow, FlowRevision, Organization, PhoneNumber, User, utcnow
from services.flow_refs import link_studio_subflows, subflow_issues
from services.flow_templates import TEMPLATES, template_definition


class FlowError(ValueError):
    """Bad input for a flow operation; `path` says where in the definition, when known."""

    code = "invalid_request"

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.message, self.path = message, path


class StaleDraft(FlowError):
    """Someone saved the draft since the version the editor started from."""

    code = "stale_draft"

    def __init__(self, flow: Flow):
        who = flow.draft_updated_by.display_name if flow.draft_updated_by else "someone"
        when = flow.draft_updated_at.strftime("%H:%M:%S UTC on %d %b %Y")
        super().__init__(
            f"{who} saved this flow at {when} (version {flow.draft_version}) after you opened it. "
            "Reload to see their changes; your edits were not saved."
        )
        self.current_version, self.updated_by, self.updated_at = flow.draft_version, who, flow.draft_updated_at
        self.updated_by_id = flow.draft_updated_by_id


class InvalidFlow(FlowError):
    """The flow has errors and cannot be published."""

    code = "invalid_flow"

    def __init__(self, issues: list[dict]):
        errors = [i for i in issues if i["severity"] == "error"]
        first = errors[0]["message"] if errors else ""
        super().__init__(f"The flow has {len(errors)} error(s) and was not published. First: {first}")
        self.issues = issues


class NothingToPublish(FlowError):
    """The draft says exactly what the live revision says: publishing would only repeat it."""

    code = "nothing_to_publish"

    def __init__(self, revision: FlowRevision):
        super().__init__(
            f"Nothing new to publish: the draft is the same as revision {revision.number}, which is live."
        )
        self.revision = revision


def logic_of(definition: dict | None) -> dict:
    """The parts of a definition that change what callers hear (everything but editor layout)."""
    if not definition:
        return {}
    return {k: v for k, v in definition.items() if k != "ui"}


def check_definition(definition) -> dict:
    """Raise FlowError unless `definition` is a well-formed Phonetree definition; returns it."""
    from flows import DefinitionError, load_definition

    try:
        load_definition(definition)
    except DefinitionError as err:
        raise FlowError(f"Not a valid flow definition: {err}", err.path) from None
    return definition


def validate_flow(definition: dict, org: Organization | None = None) -> list[dict]:
    """The engine's errors and warnings for a definition, as dicts (with ``org``: its subflows checked too)."""
    from flows import validate

    issues = [issue.to_dict() for issue in validate(definition)]
    if org is not None:
        issues = sorted(issues + subflow_issues(org, definition), key=lambda i: i["severity"] != "error")
    return issues


def list_flows(org: Organization, include_archived: bool = False) -> list[Flow]:
    """The org's flows, newest edits first."""
    query = (
        Flow.for_org(org.id).options(selectinload(Flow.published_revision)).order_by(Flow.draft_updated_at.desc())
    )
    if not include_archived:
        query = query.where(Flow.archived.is_(False))
    return list(db.session.scalars(query))


def numbers_by_flow(org: Organization, flow_ids: list[int]) -> dict[int, list[str]]:
    """The org's phone numbers routed to each of these flows (their calls or their texts), in one query."""
    found: dict[int, list[str]] = {fid: [] for fid in flow_ids}
    if flow_ids:
        rows = db.session.execute(
            select(PhoneNumber.flow_id, PhoneNumber.messaging_flow_id, PhoneNumber.phone_number)
            .where(
                PhoneNumber.org_id == org.id,
                or_(PhoneNumber.flow_id.in_(flow_ids), PhoneNumber.messaging_flow_id.in_(flow_ids)),
            )
            .order_by(PhoneNumber.phone_number)
        )
        for flow_id, messaging_flow_id, number in rows:  # its calls' flow, its texts' flow, or both
            for fid in {flow_id, messaging_flow_id} & found.keys():
                found[fid].append(number)
    return found


def get_flow(org: Organization, flow_id: int, lock: bool = False) -> Flow | None:
    """The org's flow with this id, or None (also for another org's flow).

    With `lock`, the row is locked until the transaction ends and re-read, so a save or publish
    sees what a concurrent one committed (draft version, revision numbers).
    """
    query = Flow.for_org(org.id).where(Flow.id == flow_id)
    if lock:
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite ignores FOR UPDATE: writing first takes the database write lock (waiting for
            # a concurrent save or publish to commit) before the row is read.
            db.session.execute(
                update(Flow)
                .where(Flow.id == flow_id, Flow.org_id == org.id)
                .values(draft_version=Flow.draft_version)
                .execution_options(synchronize_session=False)
            )
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


NAME_LIMIT = 200  # flows, as the column allows


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise FlowError("A flow needs a name.")
    if len(name) > NAME_LIMIT:
        raise FlowError(f"The flow name is {len(name)} characters; the limit is {NAME_LIMIT}. Shorten it.")
    return name


def shorten(text: str, limit: int = 200) -> str:
    """`text` within `limit` characters, cut at a word and marked with an ellipsis (for names we make up)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:-") + "…"


def create_flow(
    org: Organization,
    user: User | None,
    name: str,
    definition: dict | None = None,
    template: str | None = None,
    description: str = "",
) -> Flow:
    """A new flow from a definition, a starter template, or blank."""
    if definition is None:
        if template and template not in TEMPLATES:
            raise FlowError(f"Unknown template '{template}'; choose one of {', '.join(TEMPLATES)}.")
        definition = template_definition(template or "blank", org.timezone or "UTC")
    check_definition(definition)
    flow = Flow(
        org_id=org.id,
        name=_clean_name(name),
        description=description or "",
        draft=definition,
        draft_version=1,
        created_by_id=user.id if user else None,
        draft_updated_by_id=user.id if user else None,
        test_users=[],
    )
    db.session.add(flow)
    db.session.flush()
    return flow


def save_draft(org: Organization, user: User | None, flow: Flow, definition: dict, expected_version: int) -> Flow:
    """Replace the draft, unless someone saved since `expected_version` (then StaleDraft)."""
    check_definition(definition)
    locked = get_flow(org, flow.id, lock=True)
    if locked.draft_version != expected_version:
        raise StaleDraft(locked)
    locked.draft = copy.deepcopy(definition)
    locked.draft_version += 1
    locked.draft_updated_at = utcnow()
    locked.draft_updated_by_id = user.id if user else None
    db.session.flush()
    return locked


def _next_number(flow: Flow) -> int:
    current = db.session.scalar(select(func.max(FlowRevision.number)).where(FlowRevision.flow_id == flow.id))
    return (current or 0) + 1


def _freeze(org: Organization, user: User | None, flow: Flow, definition: dict, message: str) -> FlowRevision:
    issues = validate_flow(definition, org)
    if any(i["severity"] == "error" for i in issues):
        raise InvalidFlow(issues)
    revision = FlowRevision(
        org_id=org.id,
        flow_id=flow.id,
        number=_next_number(flow),
        definition=copy.deepcopy(definition),
        author_id=user.id if user else None,
        message=(message or "").strip()[:2000],
        valid=True,
        issues=issues,
    )
    db.session.add(revision)
    db.session.flush()
    flow.published_revision_id = revision.id
    db.session.flush()
    return revision


def publish(org: Organization, user: User | None, flow: Flow, message: str = "") -> FlowRevision:
    """Validate the draft and freeze it as the next published revision.

    Raises InvalidFlow on errors, and NothingToPublish (no revision made) when the draft's logic is
    the live revision's: moving cards alone is not a new revision.
    """
    locked = get_flow(org, flow.id, lock=True)
    live = locked.published_revision
    if live is not None and logic_of(live.definition) == logic_of(locked.draft):
        raise NothingToPublish(live)
    return _freeze(org, user, locked, locked.draft, message)


def rollback(org: Organization, user: User | None, flow: Flow, number: int) -> FlowRevision:
    """Republish an older revision's definition as a new revision; the draft is left as it is."""
    old = get_revision(org, flow, number)
    if old is None:
        raise FlowError(f"This flow has no revision {number}.")
    locked = get_flow(org, flow.id, lock=True)
    return _freeze(org, user, locked, old.definition, f"Rollback to revision {number}")


def revisions(org: Organization, flow: Flow) -> list[FlowRevision]:
    """The flow's revisions, newest first."""
    return list(
        db.session.scalars(
            FlowRevision.for_org(org.id).where(FlowRevision.flow_id == flow.id).order_by(FlowRevision.number.desc())
        )
    )


def get_revision(org: Organization, flow: Flow, number: int) -> FlowRevision | None:
    """One revision of the flow by its number."""
    return db.session.scalar(
        FlowRevision.for_org(org.id).where(FlowRevision.flow_id == flow.id, FlowRevision.number == number)
    )


def duplicate(org: Organization, user: User | None, flow: Flow, name: str | None = None) -> Flow:
    """A new flow with a copy of this one's draft."""
    return create_flow(
        org, user, name or f"{flow.name} (copy)", copy.deepcopy(flow.draft), description=flow.description
    )


def rename(flow: Flow, name: str, description: str | None = None) -> Flow:
    """Change the flow's name (and description)."""
    flow.name = _clean_name(name)
    if description is not None:
        flow.description = description.strip()
    db.session.flush()
    return flow


def archive(org: Organization, flow: Flow, archived: bool = True) -> Flow:
    """Archive (or restore) a flow; a flow that numbers still use cannot be archived."""
    if archived:
        using = numbers_using(org, flow)
        if using:
            listed = ", ".join(n.phone_number for n in using)
            raise FlowError(f"{listed} still route to this flow; assign them another flow first.")
    flow.archived = archived
    db.session.flush()
    return flow


def numbers_using(org: Organization, flow: Flow) -> list[PhoneNumber]:
    """The org's phone numbers that route calls or texts to this flow."""
    return list(
        db.session.scalars(
            PhoneNumber.for_org(org.id).where(
                or_(PhoneNumber.flow_id == flow.id, PhoneNumber.messaging_flow_id == flow.id)
            )
        )
    )


def set_test_users(flow: Flow, numbers: list[str], region: str = "US") -> list[str]:
    """Store the phone numbers (E.164) whose calls run the draft instead of the published revision."""
    cleaned: list[str] = []
    for raw in numbers:
        raw = str(raw).strip()
        if not raw:
            continue
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            raise FlowError(f"'{raw}' is not a phone number.") from None
        if not phonenumbers.is_possible_number(parsed):
            raise FlowError(f"'{raw}' is not a possible phone number.")
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in cleaned:
            cleaned.append(e164)
    flow.test_users = cleaned
    db.session.flush()
    return cleaned


def import_flow(org: Organization, user: User | None, data, name: str | None = None):
    """Import a Phonetree or Twilio Studio definition as a new flow: (flow, format, report, issues)."""
    from flows import DefinitionError
    from flows.studio import detect_format, import_studio

    try:
        fmt = detect_format(data)
        if fmt == "studio":
            definition, report = import_studio(data)
            default_name = (data.get("description") or "").strip() or "Imported Studio flow"
        else:
            definition, report = data, []
            default_name = "Imported flow"
    except DefinitionError as err:
        raise FlowError(str(err), err.path) from None
    if fmt == "studio":
        linked = link_studio_subflows(org, definition)
        widgets = {n["name"]: linked[n["id"]] for n in definition["nodes"] if n["id"] in linked}
        for row in report:
            if row["widget"] in widgets:
                row["detail"] += f"; linked to flow {widgets[row['widget']]}, imported from that Studio flow"
    flow = create_flow(org, user, (name or "").strip() or shorten(default_name, NAME_LIMIT), definition)
    return flow, fmt, report, validate_flow(definition, org)


def export_flow(flow: Flow, fmt: str = "phonetree", definition: dict | None = None) -> dict:
    """The flow's draft (or the given definition) as Phonetree JSON or Twilio Studio JSON."""
    definition = definition if definition is not None else flow.draft
    if fmt == "phonetree":
        return copy.deepcopy(definition)
    if fmt == "studio":
        from flows.studio import export_studio

        return export_studio(definition, description=flow.name)
    raise FlowError("format must be 'studio' or 'phonetree'.")


def definition_for_call(org: Organization, flow: Flow, caller: str) -> tuple[dict | None, FlowRevision | None, bool]:
    """What a call from `caller` runs: the draft for a test user, else the published revision."""
    if caller and caller in (flow.test_users or []):
        return flow.draft, None, True
    if flow.published_revision_id is None:
        return None, None, False
    revision = db.session.get(
        FlowRevision, flow.published_revision_id, options=[defer(FlowRevision.definition), defer(FlowRevision.issues)]
    )
    return published_definition(revision.id), revision, False


def definition_for_caller(
    flow_id: int, test_users: list | None, revision_id: int | None, caller: str
) -> tuple[dict | None, int | None, bool]:
    """`definition_for_call` from a flow's columns: (definition, published revision id, uses draft).

    The published definition comes from the per-process cache; only a test user's call reads
    the draft. A revision that no longer exists answers no definition.
    """
    if caller and caller in (test_users or []):
        return db.session.scalar(select(Flow.draft).where(Flow.id == flow_id)), None, True
    if revision_id is None:
        return None, None, False
    try:
        return published_definition(revision_id), revision_id, False
    except KeyError:
        return None, None, False


def published_definition(revision_id: int) -> dict:
    """A published revision's definition, read once per process (`caches.PUBLISHED_DEFINITIONS`:
    revisions never change). Do not mutate. Raises KeyError for a revision that does not exist."""
    hit = PUBLISHED_DEFINITIONS.get(revision_id)
    if hit is not None:
        return hit
    revision = db.session.get(FlowRevision, revision_id)
    if revision is None:
        raise KeyError(revision_id)
    return PUBLISHED_DEFINITIONS.put(revision_id, copy.deepcopy(revision.definition))


def clear_caches() -> None:
    """Forget every named cache of the running app (tests reuse revision ids across fresh databases)."""
    clear_all()


def diff_definitions(old: dict | None, new: dict) -> dict:
    """Which nodes were added, removed or changed between two definitions (for revision history)."""
    before = {n["id"]: n for n in (old or {}).get("nodes", [])}
    after = {n["id"]: n for n in new.get("nodes", [])}
    changed = [nid for nid in after if nid in before and after[nid] != before[nid]]
    return {
        "added": [nid for nid in after if nid not in before],
        "removed": [nid for nid in before if nid not in after],
        "changed": changed,
        "start_changed": (old or {}).get("start") != new.get("start"),
        "settings_changed": (old or {}).get("settings") != new.get("settings"),
    }
