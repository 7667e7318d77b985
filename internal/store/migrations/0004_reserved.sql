-- 0004: a placeholder on the wt-engine branch only. Another branch of
-- issue 10 adds the real 0004; delete this file when merging (Migrations
-- refuses two files of one version, so forgetting fails every test).
-- It changes nothing: the table it names exists already.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
