"""The schema of Radar before migrations (storage schema version 1).

Revision ID: 0001
Revises:
Created: 2026-05-20

Databases made before migrations have exactly these tables; they are stamped at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])
    op.create_table(
        "feeds",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("title", sa.Text),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_hash", sa.String(64)),
        sa.Column("last_poll", sa.Float),
        sa.Column("last_change", sa.Float),
        sa.Column("last_status", sa.Integer),
        sa.Column("next_due", sa.Float),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("failing_since", sa.Float),
        sa.Column("moved_to", sa.Text),
        sa.Column("gone", sa.Boolean, nullable=False),
        sa.Column("baselined", sa.Boolean, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", sa.Float),
    )
    op.create_table(
        "items",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("feed_url", sa.Text, nullable=False),
        sa.Column("guid", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("canonical_link", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("outlet", sa.Text, nullable=False),
        sa.Column("language", sa.String(35)),
        sa.Column("published", sa.Float),
        sa.Column("effective", sa.Float, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("story_id", ID),
        sa.Column("features", sa.JSON),
        sa.Column("merge", sa.JSON),
        sa.UniqueConstraint("feed_url", "guid", name="uq_items_feed_guid"),
    )
    op.create_index("ix_items_canonical_link", "items", ["canonical_link"])
    op.create_index("ix_items_guid", "items", ["guid"])
    op.create_index("ix_items_story", "items", ["story_id"])
    op.create_index("ix_items_effective", "items", ["effective"])
    op.create_table(
        "stories",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("first_item_id", ID, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("first_published", sa.Float, nullable=False),
        sa.Column("last_published", sa.Float, nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
    )
    op.create_index("ix_stories_last_published", "stories", ["last_published"])
    op.create_table(
        "story_keys",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("published", sa.Float, nullable=False),
        sa.Column("story_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("key", "published", "story_id", name="pk_story_keys"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("story_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("matches", sa.JSON, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_index("ix_alerts_story", "alerts", ["story_id"])
    op.create_table(
        "outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("parent_id", ID),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", sa.Float),
        sa.Column("ref", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("sent", sa.Float),
        sa.UniqueConstraint("alert_id", "destination", name="uq_outbox_alert_destination"),
    )
    op.create_index("ix_outbox_status_destination", "outbox", ["status", "destination", "id"])
    op.create_table(
        "chats",
        sa.Column("chat_id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "topic", name="pk_subscriptions"),
    )
    op.create_table(
        "instances",
        sa.Column("owner", sa.String(100), primary_key=True),
        sa.Column("seen", sa.Float, nullable=False),
    )
