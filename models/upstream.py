"""The organisation's vendor integration (one per org): public config plus encrypted secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import OrgScoped, TZDateTime, utcnow


class UpstreamIntegration(OrgScoped, db.Model):
    __tablename__ = "upstream_integration"
    __table_args__ = (UniqueConstraint("org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    # Fernet token of a JSON object holding the secret fields; never decrypted outside upstream/.
    secrets_encrypted: Mapped[str] = mapped_column(Text, default="")
    secret_names: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
