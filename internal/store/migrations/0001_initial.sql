-- 0001: incidents and what `incident open` and `incident scope` know about them.
--
-- Portable SQL only: this file runs unchanged on SQLite and PostgreSQL.
--   * Times are TEXT, UTC, fixed width: 2006-01-02T15:04:05.000000000Z
--     (sorts as text in time order, keeps nanoseconds, readable in a shell).
--   * Booleans are INTEGER 0/1; lists are TEXT holding a JSON array.
--   * No auto-increment: keys are natural, or a position (pos, seq) that
--     the store assigns inside the writing transaction.
--   * Column names avoid words either engine reserves (commit, column,
--     match, exists, database, time).
-- Nothing here holds a secret in clear: a secret is a fingerprint
-- (HMAC-SHA256, hex) and a redacted preview.

CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    fingerprint     TEXT NOT NULL,
    preview         TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    created         TEXT NOT NULL,
    closed_at       TEXT,
    leaked_at       TEXT,
    inventory       TEXT NOT NULL DEFAULT '',
    identity_system TEXT NOT NULL DEFAULT '',
    identity_name   TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT ''
);
-- At most one open incident per secret: `incident open` run twice (or by
-- two responders at once) finds the same incident.
CREATE UNIQUE INDEX incidents_one_open ON incidents (fingerprint) WHERE state = 'open';
CREATE INDEX incidents_by_fingerprint ON incidents (fingerprint);
CREATE INDEX incidents_by_created ON incidents (created, id);

-- One copy of the secret at one place (a finding of scan or trace).
CREATE TABLE occurrences (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    preview     TEXT NOT NULL DEFAULT '',
    rule        TEXT NOT NULL DEFAULT '',
    provider    TEXT NOT NULL DEFAULT '',
    severity    TEXT NOT NULL DEFAULT '',
    path        TEXT NOT NULL,
    line        INTEGER NOT NULL DEFAULT 0,
    col         INTEGER NOT NULL DEFAULT 0,
    commit_id   TEXT NOT NULL DEFAULT '',
    at_head     INTEGER NOT NULL DEFAULT 0,
    class       TEXT NOT NULL DEFAULT '',
    encoding    TEXT NOT NULL DEFAULT '',
    ref         TEXT NOT NULL DEFAULT '',
    match_kind  TEXT NOT NULL DEFAULT '',
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (incident_id, fingerprint, path, line, col, commit_id, ref, encoding)
);

-- The principal the secret authenticates as, and what inspecting it found.
CREATE TABLE identities (
    incident_id   TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    system        TEXT NOT NULL,
    name          TEXT NOT NULL,
    method        TEXT NOT NULL DEFAULT '',
    inspected     INTEGER NOT NULL DEFAULT 0,
    inspect_error TEXT NOT NULL DEFAULT '',
    inspected_at  TEXT,
    present       INTEGER NOT NULL DEFAULT 0,
    can_login     INTEGER NOT NULL DEFAULT 0,
    valid_until   TEXT,
    flags         TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (incident_id, system, name)
);

CREATE TABLE privileges (
    incident_id         TEXT NOT NULL,
    system              TEXT NOT NULL,
    identity            TEXT NOT NULL,
    pos                 INTEGER NOT NULL,
    name                TEXT NOT NULL,
    risk                TEXT NOT NULL DEFAULT '',
    via                 TEXT NOT NULL DEFAULT '',
    creates_credentials INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, system, identity, pos),
    FOREIGN KEY (incident_id, system, identity) REFERENCES identities (incident_id, system, name) ON DELETE CASCADE
);

CREATE TABLE sessions (
    incident_id TEXT NOT NULL,
    system      TEXT NOT NULL,
    identity    TEXT NOT NULL,
    pos         INTEGER NOT NULL,
    session_id  TEXT NOT NULL DEFAULT '',
    client      TEXT NOT NULL DEFAULT '',
    application TEXT NOT NULL DEFAULT '',
    started     TEXT,
    db_name     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, system, identity, pos),
    FOREIGN KEY (incident_id, system, identity) REFERENCES identities (incident_id, system, name) ON DELETE CASCADE
);

CREATE TABLE related (
    incident_id TEXT NOT NULL,
    system      TEXT NOT NULL,
    identity    TEXT NOT NULL,
    pos         INTEGER NOT NULL,
    kind        TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, system, identity, pos),
    FOREIGN KEY (incident_id, system, identity) REFERENCES identities (incident_id, system, name) ON DELETE CASCADE
);

-- Workloads using the secret: declared in the inventory, observed in
-- sessions and logs, or both.
CREATE TABLE consumers (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    identity    TEXT NOT NULL DEFAULT '',
    declared    INTEGER NOT NULL DEFAULT 0,
    observed    INTEGER NOT NULL DEFAULT 0,
    sources     TEXT NOT NULL DEFAULT '[]',
    third_party INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, name)
);

-- Normalised log records of the credential being used. seq keeps the
-- order records were added in among events of the same instant.
CREATE TABLE events (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    event_time  TEXT NOT NULL,
    credential  TEXT NOT NULL DEFAULT '',
    identity    TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    application TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    file        TEXT NOT NULL DEFAULT '',
    line        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, seq)
);
-- Reading the same log twice adds nothing: one record is one event.
CREATE UNIQUE INDEX events_once ON events (incident_id, file, line, event_time, action, source, credential);
CREATE INDEX events_by_time ON events (incident_id, event_time, seq);
