-- The same Radar database made before migrations (schema version 1, commit 489a5c2), PostgreSQL.
-- pg_dump --inserts of a schema made by that commit, without its session settings and schema names.

CREATE TABLE alerts (
    id bigint NOT NULL,
    story_id bigint NOT NULL,
    item_id bigint NOT NULL,
    kind character varying(10) NOT NULL,
    rules json NOT NULL,
    matches json NOT NULL,
    created double precision NOT NULL
);

CREATE SEQUENCE alerts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE alerts_id_seq OWNED BY alerts.id;

CREATE TABLE chats (
    chat_id bigint NOT NULL,
    kind character varying(20) NOT NULL,
    title text,
    created double precision NOT NULL
);

CREATE SEQUENCE chats_chat_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE chats_chat_id_seq OWNED BY chats.chat_id;

CREATE TABLE feeds (
    url text NOT NULL,
    title text,
    etag text,
    last_modified text,
    body_hash character varying(64),
    last_poll double precision,
    last_change double precision,
    last_status integer,
    next_due double precision,
    failures integer NOT NULL,
    last_error text,
    failing_since double precision,
    moved_to text,
    gone boolean NOT NULL,
    baselined boolean NOT NULL,
    lease_owner character varying(100),
    lease_until double precision
);

CREATE TABLE instances (
    owner character varying(100) NOT NULL,
    seen double precision NOT NULL
);

CREATE TABLE items (
    id bigint NOT NULL,
    feed_url text NOT NULL,
    guid text NOT NULL,
    link text,
    canonical_link text,
    title text NOT NULL,
    summary text NOT NULL,
    content text NOT NULL,
    author text NOT NULL,
    categories json NOT NULL,
    outlet text NOT NULL,
    language character varying(35),
    published double precision,
    effective double precision NOT NULL,
    first_seen double precision NOT NULL,
    verdict character varying(10) NOT NULL,
    story_id bigint,
    features json,
    merge json
);

CREATE SEQUENCE items_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE items_id_seq OWNED BY items.id;

CREATE TABLE meta (
    key character varying(100) NOT NULL,
    value text NOT NULL
);

CREATE TABLE outbox (
    id bigint NOT NULL,
    alert_id bigint NOT NULL,
    destination character varying(300) NOT NULL,
    parent_id bigint,
    status character varying(10) NOT NULL,
    attempts integer NOT NULL,
    next_attempt double precision NOT NULL,
    lease_owner character varying(100),
    lease_until double precision,
    ref text,
    error text,
    created double precision NOT NULL,
    sent double precision
);

CREATE SEQUENCE outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE outbox_id_seq OWNED BY outbox.id;

CREATE TABLE stories (
    id bigint NOT NULL,
    title text NOT NULL,
    first_item_id bigint NOT NULL,
    created double precision NOT NULL,
    first_published double precision NOT NULL,
    last_published double precision NOT NULL,
    rules json NOT NULL,
    item_count integer NOT NULL
);

CREATE SEQUENCE stories_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE stories_id_seq OWNED BY stories.id;

CREATE TABLE story_keys (
    key character varying(200) NOT NULL,
    published double precision NOT NULL,
    story_id bigint NOT NULL
);

CREATE TABLE subscriptions (
    chat_id bigint NOT NULL,
    topic character varying(100) NOT NULL,
    created double precision NOT NULL
);

ALTER TABLE ONLY alerts ALTER COLUMN id SET DEFAULT nextval('alerts_id_seq'::regclass);

ALTER TABLE ONLY chats ALTER COLUMN chat_id SET DEFAULT nextval('chats_chat_id_seq'::regclass);

ALTER TABLE ONLY items ALTER COLUMN id SET DEFAULT nextval('items_id_seq'::regclass);

ALTER TABLE ONLY outbox ALTER COLUMN id SET DEFAULT nextval('outbox_id_seq'::regclass);

ALTER TABLE ONLY stories ALTER COLUMN id SET DEFAULT nextval('stories_id_seq'::regclass);

INSERT INTO alerts VALUES (1, 1, 1, 'alert', '["chip-export"]', '{"chip-export": [{"term": "entity list", "field": "title", "text": "Entity List", "kind": "phrase"}]}', 1760000000);
INSERT INTO alerts VALUES (2, 1, 2, 'followup', '["chip-export"]', '{}', 1760000001);

INSERT INTO chats VALUES (1001, 'private', NULL, 1760000000);
INSERT INTO chats VALUES (-2002, 'group', 'Team', 1760000000);

INSERT INTO feeds VALUES ('https://feeds.example.com/bis.xml', 'BIS', '"abc"', 'Mon, 06 Oct 2025 10:00:00 GMT', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 1760000000, 1759999400, 200, 1760000600, 0, NULL, NULL, NULL, false, true, NULL, NULL);
INSERT INTO feeds VALUES ('https://feeds.example.com/broken.xml', NULL, NULL, NULL, NULL, 1760000000, NULL, 503, 1760001200, 3, 'HTTP 503', 1759996400, NULL, false, false, NULL, NULL);

INSERT INTO instances VALUES ('host:1:abc', 1760000000);

INSERT INTO items VALUES (3, 'https://feeds.example.com/bis.xml', 'https://bis.example.gov/0', NULL, NULL, 'An old notice', '', '', '', '[]', 'BIS', NULL, 1757408000, 1757408000, 1760000000, 'record', NULL, 'null', NULL);
INSERT INTO items VALUES (1, 'https://feeds.example.com/bis.xml', 'https://bis.example.gov/1', 'https://bis.example.gov/1?utm_source=rss', 'https://bis.example.gov/1', 'US adds 80 Chinese firms to Entity List over AI chips', 'Export controls on chips.', '', '', '["export", "chips"]', 'BIS', 'en', 1759999100, 1759999100, 1760000000, 'new', 1, '{"title": ["entity", "list"], "actors": []}', '{"story_id": null}');
INSERT INTO items VALUES (2, 'https://feeds.example.com/wire.xml', 'wire-7', 'https://wire.example.com/7', 'https://wire.example.com/7', '80 Chinese companies added to US Entity List', '', '', '', '[]', 'Wire', NULL, 1759999200, 1759999200, 1760000000, 'new', 1, '{"title": ["entity"], "actors": []}', '{"story_id": 1, "score": 91.5, "layer": "fuzzy"}');

INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO meta VALUES ('telegram_offset', '4242');

INSERT INTO outbox VALUES (4, 2, 'slack:#export-controls', 1, 'pending', 0, 1760000001, NULL, NULL, NULL, NULL, 1760000001, NULL);
INSERT INTO outbox VALUES (5, 2, 'telegram:1001', 2, 'pending', 0, 1760000001, NULL, NULL, NULL, NULL, 1760000001, NULL);
INSERT INTO outbox VALUES (6, 2, 'telegram:1002', 3, 'pending', 0, 1760000001, NULL, NULL, NULL, NULL, 1760000001, NULL);
INSERT INTO outbox VALUES (1, 1, 'slack:#export-controls', NULL, 'sent', 1, 1760000000, NULL, NULL, 'ref-1', NULL, 1760000000, 1760000002);
INSERT INTO outbox VALUES (2, 1, 'telegram:1001', NULL, 'sent', 1, 1760000000, NULL, NULL, 'ref-2', NULL, 1760000000, 1760000002);
INSERT INTO outbox VALUES (3, 1, 'telegram:1002', NULL, 'failed', 1, 1760000000, NULL, NULL, NULL, 'Forbidden: bot was blocked by the user', 1760000000, NULL);

INSERT INTO stories VALUES (1, 'US adds 80 Chinese firms to Entity List over AI chips', 1, 1760000000, 1759999100, 1759999200, '["chip-export"]', 2);

INSERT INTO story_keys VALUES ('t:entity list', 1759999100, 1);
INSERT INTO story_keys VALUES ('a:usa', 1759999100, 1);

INSERT INTO subscriptions VALUES (1001, 'chip-export', 1760000000);
INSERT INTO subscriptions VALUES (1001, 'ai-summit', 1760000000);
INSERT INTO subscriptions VALUES (-2002, 'travel-guidance', 1760000000);

SELECT pg_catalog.setval('alerts_id_seq', 2, true);

SELECT pg_catalog.setval('chats_chat_id_seq', 1, false);

SELECT pg_catalog.setval('items_id_seq', 3, true);

SELECT pg_catalog.setval('outbox_id_seq', 6, true);

SELECT pg_catalog.setval('stories_id_seq', 1, true);

ALTER TABLE ONLY alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY chats
    ADD CONSTRAINT chats_pkey PRIMARY KEY (chat_id);

ALTER TABLE ONLY feeds
    ADD CONSTRAINT feeds_pkey PRIMARY KEY (url);

ALTER TABLE ONLY instances
    ADD CONSTRAINT instances_pkey PRIMARY KEY (owner);

ALTER TABLE ONLY items
    ADD CONSTRAINT items_pkey PRIMARY KEY (id);

ALTER TABLE ONLY meta
    ADD CONSTRAINT meta_pkey PRIMARY KEY (key);

ALTER TABLE ONLY outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY story_keys
    ADD CONSTRAINT pk_story_keys PRIMARY KEY (key, published, story_id);

ALTER TABLE ONLY subscriptions
    ADD CONSTRAINT pk_subscriptions PRIMARY KEY (chat_id, topic);

ALTER TABLE ONLY stories
    ADD CONSTRAINT stories_pkey PRIMARY KEY (id);

ALTER TABLE ONLY items
    ADD CONSTRAINT uq_items_feed_guid UNIQUE (feed_url, guid);

ALTER TABLE ONLY outbox
    ADD CONSTRAINT uq_outbox_alert_destination UNIQUE (alert_id, destination);

CREATE INDEX ix_alerts_story ON alerts USING btree (story_id);

CREATE INDEX ix_items_canonical_link ON items USING btree (canonical_link);

CREATE INDEX ix_items_effective ON items USING btree (effective);

CREATE INDEX ix_items_guid ON items USING btree (guid);

CREATE INDEX ix_items_story ON items USING btree (story_id);

CREATE INDEX ix_outbox_status_destination ON outbox USING btree (status, destination, id);

CREATE INDEX ix_stories_last_published ON stories USING btree (last_published);

