"""The tables, in one place. Times are epoch seconds (floats); lists and evidence are JSON.

A change here needs a migration in `bot/storage/migrations/versions/` (see that package).
"""

from __future__ import annotations

import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Before migrations, this row of `meta` held the schema's version (1). It is kept: Radars of
# that time read it to refuse a database they do not know (see bot/storage/migrations).
LEGACY_VERSION_KEY = "schema_version"

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("url", sa.Text, primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("body_hash", sa.String(64)),
    sa.Column("last_poll", sa.Float),
    sa.Column("last_change", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("next_due", sa.Float),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("failing_since", sa.Float),
    sa.Column("moved_to", sa.Text),
    sa.Column("gone", sa.Boolean, nullable=False, default=False),
    sa.Column("baselined", sa.Boolean, nullable=False, default=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", sa.Float),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("feed_url", sa.Text, nullable=False),
    sa.Column("guid", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("canonical_link", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("content", sa.Text, nullable=False, default=""),
    sa.Column("author", sa.Text, nullable=False, default=""),
    sa.Column("categories", sa.JSON, nullable=False, default=list),
    sa.Column("outlet", sa.Text, nullable=False, default=""),
    sa.Column("language", sa.String(35)),
    sa.Column("published", sa.Float),
    sa.Column("effective", sa.Float, nullable=False),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("verdict", sa.String(10), nullable=False),  # bot.types.ItemVerdict
    sa.Column("story_id", ID),
    sa.Column("features", sa.JSON),
    sa.Column("merge", sa.JSON),
    sa.UniqueConstraint("feed_url", "guid", name="uq_items_feed_guid"),
    sa.Index("ix_items_canonical_link", "canonical_link"),
    sa.Index("ix_items_guid", "guid"),
    sa.Index("ix_items_story", "story_id"),
    sa.Index("ix_items_effective", "effective"),
)

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("first_item_id", ID, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("first_published", sa.Float, nullable=False),
    sa.Column("last_published", sa.Float, nullable=False),
    sa.Column("rules", sa.JSON, nullable=False, default=list),
    sa.Column("item_count", sa.Integer, nullable=False, default=1),
    sa.Index("ix_stories_last_published", "last_published"),
)

STORY_KEY_LENGTH = 200
RULES_VERSION_LENGTH = 80

story_keys = sa.Table(
    "story_keys",
    metadata,
    sa.Column("key", sa.String(STORY_KEY_LENGTH), nullable=False),
    sa.Column("published", sa.Float, nullable=False),
    sa.Column("story_id", ID, nullable=False),
    sa.PrimaryKeyConstraint("key", "published", "story_id", name="pk_story_keys"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("story_id", ID, nullable=False),
    sa.Column("item_id", ID, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # bot.types.AlertKind
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("matches", sa.JSON, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    # The rules that made it: `git:<commit>`, or `sha256:<hash>` of a folder outside git
    sa.Column("rules_version", sa.String(RULES_VERSION_LENGTH)),
    sa.Index("ix_alerts_story", "story_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("alert_id", ID, nullable=False),
    sa.Column("destination", sa.String(300), nullable=False),
    sa.Column("parent_id", ID),
    sa.Column("status", sa.String(10), nullable=False, default="pending"),  # DeliveryStatus
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt", sa.Float, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", sa.Float),
    sa.Column("ref", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("sent", sa.Float),
    sa.UniqueConstraint("alert_id", "destination", name="uq_outbox_alert_destination"),
    sa.Index("ix_outbox_status_destination", "status", "destination", "id"),
)

# Users' verdicts on alerts: one per alert, destination and voter (the latest counts). The
# alert's rules, their version and its item are copied, so verdicts outlive the archive.
verdicts = sa.Table(
    "verdicts",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("alert_id", ID, nullable=False),
    sa.Column("destination", sa.String(300), nullable=False),
    sa.Column("voter", sa.String(100), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),  # bot.types.Judgement
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("rules_version", sa.String(RULES_VERSION_LENGTH)),
    sa.Column("feed_url", sa.Text, nullable=False),
    sa.Column("guid", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("alert_id", "destination", "voter", name="uq_verdicts_alert_voter"),
)

chats = sa.Table(
    "chats",
    metadata,
    sa.Column("chat_id", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False, default="private"),
    sa.Column("title", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("chat_id", "topic", name="pk_subscriptions"),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("owner", sa.String(100), primary_key=True),
    sa.Column("seen", sa.Float, nullable=False),
)
