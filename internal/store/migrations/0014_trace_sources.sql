-- 0014: tracing fanned out as jobs (POST /api/v1/incidents with sources):
-- one row per source, pending until a job (on any replica) records what it
-- found there or why it could not be read, and the leaked secret the jobs
-- trace, sealed, kept only while a source is pending.
CREATE TABLE trace_sources (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    path        TEXT NOT NULL,
    history     INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    copies      INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    exposed_at  TEXT NOT NULL DEFAULT '',
    updated     TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE TABLE trace_secrets (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    ciphertext  TEXT NOT NULL,
    created     TEXT NOT NULL
);
