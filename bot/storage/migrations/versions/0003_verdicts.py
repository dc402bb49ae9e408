"""Users' verdicts on alerts (Telegram buttons, Slack reactions).

Revision ID: 0003
Revises: 0002
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "verdicts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("voter", sa.String(100), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("rules_version", sa.String(80)),
        sa.Column("feed_url", sa.Text, nullable=False),
        sa.Column("guid", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("created", sa.Float, nullable=False),
        sa.UniqueConstraint("alert_id", "destination", "voter", name="uq_verdicts_alert_voter"),
    )
