-- 0013: a check value of each key the replicas of one store must share
-- (the installation key, the sealing key, the audit MAC key): an HMAC of
-- a fixed label under the key, never the key. The first `rekey serve`
-- writes them; a later one whose keys give other values refuses to start
-- (internal/keycheck).
CREATE TABLE key_checks (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
