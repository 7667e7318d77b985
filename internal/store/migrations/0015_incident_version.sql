-- 0014: a version per incident, raised by every write transaction that
-- holds the incident (sqlstore's write), so that a reader can tell with
-- one indexed read whether what it read before is still what the store
-- holds (the API's snapshot cache). Same portable rules as 0001.
ALTER TABLE incidents ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
