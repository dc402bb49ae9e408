"""Alerts record the version of the rules that made them.

Revision ID: 0002
Revises: 0001
Created: 2026-12-01

`alerts.rules_version`: `git:<commit>` when the rules folder was a clean git checkout, else
`sha256:<hash>` of its files; empty for alerts made before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("rules_version", sa.String(80), nullable=True))
