-- A Radar database made before migrations (storage schema version 1, commit 489a5c2), SQLite.
-- Made with the Store API of that commit (feeds, items, a story with a follow-up, sent, failed and
-- pending deliveries, subscriptions, the Telegram offset), then 'sqlite3 radar.db .dump'.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (
	"key" VARCHAR(100) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO meta VALUES('schema_version','1');
INSERT INTO meta VALUES('telegram_offset','4242');
CREATE TABLE feeds (
	url TEXT NOT NULL, 
	title TEXT, 
	etag TEXT, 
	last_modified TEXT, 
	body_hash VARCHAR(64), 
	last_poll FLOAT, 
	last_change FLOAT, 
	last_status INTEGER, 
	next_due FLOAT, 
	failures INTEGER NOT NULL, 
	last_error TEXT, 
	failing_since FLOAT, 
	moved_to TEXT, 
	gone BOOLEAN NOT NULL, 
	baselined BOOLEAN NOT NULL, 
	lease_owner VARCHAR(100), 
	lease_until FLOAT, 
	PRIMARY KEY (url)
);
INSERT INTO feeds VALUES('https://feeds.example.com/bis.xml','BIS','"abc"','Mon, 06 Oct 2025 10:00:00 GMT','ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',1760000000.0,1759999400.0,200,1760000600.0,0,NULL,NULL,NULL,0,1,NULL,NULL);
INSERT INTO feeds VALUES('https://feeds.example.com/broken.xml',NULL,NULL,NULL,NULL,1760000000.0,NULL,503,1760001200.0,3,'HTTP 503',1759996400.0,NULL,0,0,NULL,NULL);
CREATE TABLE items (
	id INTEGER NOT NULL, 
	feed_url TEXT NOT NULL, 
	guid TEXT NOT NULL, 
	link TEXT, 
	canonical_link TEXT, 
	title TEXT NOT NULL, 
	summary TEXT NOT NULL, 
	content TEXT NOT NULL, 
	author TEXT NOT NULL, 
	categories JSON NOT NULL, 
	outlet TEXT NOT NULL, 
	language VARCHAR(35), 
	published FLOAT, 
	effective FLOAT NOT NULL, 
	first_seen FLOAT NOT NULL, 
	verdict VARCHAR(10) NOT NULL, 
	story_id INTEGER, 
	features JSON, 
	merge JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_items_feed_guid UNIQUE (feed_url, guid)
);
INSERT INTO items VALUES(1,'https://feeds.example.com/bis.xml','https://bis.example.gov/1','https://bis.example.gov/1?utm_source=rss','https://bis.example.gov/1','US adds 80 Chinese firms to Entity List over AI chips','Export controls on chips.','','','["export", "chips"]','BIS','en',1759999100.0,1759999100.0,1760000000.0,'new',1,'{"title": ["entity", "list"], "actors": []}','{"story_id": null}');
INSERT INTO items VALUES(2,'https://feeds.example.com/wire.xml','wire-7','https://wire.example.com/7','https://wire.example.com/7','80 Chinese companies added to US Entity List','','','','[]','Wire',NULL,1759999200.0,1759999200.0,1760000000.0,'new',1,'{"title": ["entity"], "actors": []}','{"story_id": 1, "score": 91.5, "layer": "fuzzy"}');
INSERT INTO items VALUES(3,'https://feeds.example.com/bis.xml','https://bis.example.gov/0',NULL,NULL,'An old notice','','','','[]','BIS',NULL,1757408000.0,1757408000.0,1760000000.0,'record',NULL,'null',NULL);
CREATE TABLE stories (
	id INTEGER NOT NULL, 
	title TEXT NOT NULL, 
	first_item_id INTEGER NOT NULL, 
	created FLOAT NOT NULL, 
	first_published FLOAT NOT NULL, 
	last_published FLOAT NOT NULL, 
	rules JSON NOT NULL, 
	item_count INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO stories VALUES(1,'US adds 80 Chinese firms to Entity List over AI chips',1,1760000000.0,1759999100.0,1759999200.0,'["chip-export"]',2);
CREATE TABLE story_keys (
	"key" VARCHAR(200) NOT NULL, 
	published FLOAT NOT NULL, 
	story_id INTEGER NOT NULL, 
	CONSTRAINT pk_story_keys PRIMARY KEY ("key", published, story_id)
);
INSERT INTO story_keys VALUES('t:entity list',1759999100.0,1);
INSERT INTO story_keys VALUES('a:usa',1759999100.0,1);
CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	story_id INTEGER NOT NULL, 
	item_id INTEGER NOT NULL, 
	kind VARCHAR(10) NOT NULL, 
	rules JSON NOT NULL, 
	matches JSON NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO alerts VALUES(1,1,1,'alert','["chip-export"]','{"chip-export": [{"term": "entity list", "field": "title", "text": "Entity List", "kind": "phrase"}]}',1760000000.0);
INSERT INTO alerts VALUES(2,1,2,'followup','["chip-export"]','{}',1760000001.0);
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	alert_id INTEGER NOT NULL, 
	destination VARCHAR(300) NOT NULL, 
	parent_id INTEGER, 
	status VARCHAR(10) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt FLOAT NOT NULL, 
	lease_owner VARCHAR(100), 
	lease_until FLOAT, 
	ref TEXT, 
	error TEXT, 
	created FLOAT NOT NULL, 
	sent FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_outbox_alert_destination UNIQUE (alert_id, destination)
);
INSERT INTO outbox VALUES(1,1,'slack:#export-controls',NULL,'sent',1,1760000000.0,NULL,NULL,'ref-1',NULL,1760000000.0,1760000002.0);
INSERT INTO outbox VALUES(2,1,'telegram:1001',NULL,'sent',1,1760000000.0,NULL,NULL,'ref-2',NULL,1760000000.0,1760000002.0);
INSERT INTO outbox VALUES(3,1,'telegram:1002',NULL,'failed',1,1760000000.0,NULL,NULL,NULL,'Forbidden: bot was blocked by the user',1760000000.0,NULL);
INSERT INTO outbox VALUES(4,2,'slack:#export-controls',1,'pending',0,1760000001.0,NULL,NULL,NULL,NULL,1760000001.0,NULL);
INSERT INTO outbox VALUES(5,2,'telegram:1001',2,'pending',0,1760000001.0,NULL,NULL,NULL,NULL,1760000001.0,NULL);
INSERT INTO outbox VALUES(6,2,'telegram:1002',3,'pending',0,1760000001.0,NULL,NULL,NULL,NULL,1760000001.0,NULL);
CREATE TABLE chats (
	chat_id BIGINT NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	title TEXT, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (chat_id)
);
INSERT INTO chats VALUES(1001,'private',NULL,1760000000.0);
INSERT INTO chats VALUES(-2002,'group','Team',1760000000.0);
CREATE TABLE subscriptions (
	chat_id BIGINT NOT NULL, 
	topic VARCHAR(100) NOT NULL, 
	created FLOAT NOT NULL, 
	CONSTRAINT pk_subscriptions PRIMARY KEY (chat_id, topic)
);
INSERT INTO subscriptions VALUES(1001,'chip-export',1760000000.0);
INSERT INTO subscriptions VALUES(1001,'ai-summit',1760000000.0);
INSERT INTO subscriptions VALUES(-2002,'travel-guidance',1760000000.0);
CREATE TABLE instances (
	owner VARCHAR(100) NOT NULL, 
	seen FLOAT NOT NULL, 
	PRIMARY KEY (owner)
);
INSERT INTO instances VALUES('host:1:abc',1760000000.0);
CREATE INDEX ix_items_canonical_link ON items (canonical_link);
CREATE INDEX ix_items_story ON items (story_id);
CREATE INDEX ix_items_guid ON items (guid);
CREATE INDEX ix_items_effective ON items (effective);
CREATE INDEX ix_stories_last_published ON stories (last_published);
CREATE INDEX ix_alerts_story ON alerts (story_id);
CREATE INDEX ix_outbox_status_destination ON outbox (status, destination, id);
COMMIT;
