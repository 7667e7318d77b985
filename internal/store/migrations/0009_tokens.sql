-- 0009: API tokens (rekey serve, and the CLI once a store holds one).
-- Same portable rules as 0001.

-- A token is kept as the SHA-256 of the whole token, never in clear: the
-- hash is what a presented token is looked up by. name is as given (the
-- audit log names it); name_key is its PRECIS key (internal/actor), unique
-- among tokens that are not revoked, so "Alice" and "alice" are one name
-- while a revoked token's name can be given again.
CREATE TABLE tokens (
    hash         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name_key) WHERE revoked_at IS NULL;
