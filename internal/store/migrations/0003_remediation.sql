-- 0003: what the last stages of a response record: the reviews of the
-- credential's use (before and after rotation), kept for the report, and
-- the remediation task of each copy of the secret.

-- One review per phase ("exposure", "after"): internal/review's JSON.
CREATE TABLE reviews (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    phase       TEXT NOT NULL,
    created     TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (incident_id, phase)
);

-- One task per copy (or per history rewrite): what was or must be done to
-- remove it, and where it stands.
CREATE TABLE tasks (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    task_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    location    TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    updated     TEXT NOT NULL,
    PRIMARY KEY (incident_id, task_id)
);
