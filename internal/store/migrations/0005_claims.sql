-- 0005: who is working on an incident right now (internal/claim), so that
-- two processes never run, resume, roll back or remediate one incident at
-- once. One row per claimed incident, deleted on release.
--
-- On SQLite the row is the claim: it is taken over when its process is
-- gone (same host, pid not running) or its heartbeat is older than the
-- staleness limit. On PostgreSQL a session advisory lock is the claim,
-- freed by the server when the holder's connection ends; the row only
-- says who holds it, for the message the next process prints.
-- No foreign key: a claim is taken before the incident is read.
CREATE TABLE claims (
    incident_id TEXT PRIMARY KEY,
    token       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    since       TEXT NOT NULL,
    heartbeat   TEXT NOT NULL
);
