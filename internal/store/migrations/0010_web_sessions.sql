-- 0010: the web UI's sign-in sessions (internal/web).
-- Same portable rules as 0001.
--
-- A session is found by the SHA-256 of the random id its cookie holds;
-- the id itself is never stored, so reading this table does not let
-- anyone sign in. credential is the token the session signed in with,
-- sealed with a key derived from that id (AES-GCM): the server re-checks
-- the token on every request (a revoked token ends its sessions) and
-- only a request carrying the cookie can open it. It is '' for a
-- session that did not sign in with a token (OIDC).
CREATE TABLE web_sessions (
    id_hash    TEXT PRIMARY KEY,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    via        TEXT NOT NULL,
    credential TEXT NOT NULL DEFAULT '',
    created    TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    expires    TEXT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires);
