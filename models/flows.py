"""Flows (metadata and the editable draft), immutable published revisions, and flow test cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import JSONList, OrgScoped, TZDateTime, utcnow


class Flow(OrgScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The draft is replaced as a whole on each save; draft_version guards against stale saves.
    draft: Mapped[dict] = mapped_column(JSON)
    draft_version: Mapped[int] = mapped_column(Integer, default=1)
    draft_updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    draft_updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    published_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("flow_revision.id", ondelete="SET NULL", use_alter=True)
    )
    test_users: Mapped[list] = mapped_column(JSONList, default=list)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    published_revision: Mapped[FlowRevision | None] = relationship(foreign_keys=[published_revision_id])
    draft_updated_by = relationship("User", foreign_keys=[draft_updated_by_id])

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the flow serves (``settings.channels`` of its published revision, else of its
        draft): ``("voice",)`` unless it says otherwise."""
        definition = self.published_revision.definition if self.published_revision is not None else self.draft
        settings = definition.get("settings") if isinstance(definition, dict) else None
        channels = settings.get("channels") if isinstance(settings, dict) else None
        return tuple(str(c) for c in channels) if isinstance(channels, list) and channels else ("voice",)


class FlowRevision(OrgScoped, db.Model):
    """A frozen definition. Rows are never updated after insert (calls in progress keep theirs)."""

    __table_args__ = (UniqueConstraint("flow_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    issues: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    author = relationship("User")


class FlowTestCase(OrgScoped, db.Model):
    """A saved simulated call: the caller's inputs and the path the flow is expected to take."""

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[list] = mapped_column(JSON, default=list)
    expected_path: Mapped[list] = mapped_column(JSON, default=list)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    last_result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
