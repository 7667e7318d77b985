-- 0002: what responding to an incident writes: the plan and the state of
-- each of its steps, credentials sealed until delivered, the leases of
-- credentials rekey issued, the hash-chained audit log, and the detail of
-- log events (a derived key id, an error code) that the review needs.
-- Same portable rules as 0001.

ALTER TABLE events ADD COLUMN detail TEXT NOT NULL DEFAULT '{}';

-- The plan `incident plan` stored last (JSON, shaped by internal/plan),
-- and the state of its run.
CREATE TABLE plans (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    strategy    TEXT NOT NULL,
    created     TEXT NOT NULL,
    body        TEXT NOT NULL,
    run_state   TEXT NOT NULL DEFAULT 'planned',
    updated     TEXT NOT NULL
);

-- One row per step of the stored plan, written before and after its side
-- effect: a step found 'running' after a crash is retried (every step is
-- idempotent).
CREATE TABLE steps (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    started     TEXT,
    finished    TEXT,
    error       TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL DEFAULT '{}',
    approved_by TEXT NOT NULL DEFAULT '',
    approved_at TEXT,
    PRIMARY KEY (incident_id, step_id)
);

-- New credentials between their creation and their delivery: AES-256-GCM
-- ciphertext (nonce included) under the sealing key in $REKEY_HOME; the
-- row is wiped once every consumer has its copy.
CREATE TABLE sealed (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    ciphertext  TEXT NOT NULL,
    created     TEXT NOT NULL,
    PRIMARY KEY (incident_id, name)
);

-- Every credential rekey issued, with its expiry, so that a TTL never
-- turns into a surprise outage.
CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    system      TEXT NOT NULL,
    login       TEXT NOT NULL,
    consumer    TEXT NOT NULL DEFAULT '',
    issued      TEXT NOT NULL,
    expires     TEXT,
    enforced    INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    updated     TEXT NOT NULL
);
CREATE UNIQUE INDEX leases_once ON leases (incident_id, system, login);
CREATE INDEX leases_by_expiry ON leases (state, expires);

-- Append-only, hash-chained: hash = SHA-256 over prev_hash and every
-- other column (internal/audit), so an edited, deleted or reordered row
-- breaks the chain.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at_time     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    incident_id TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
