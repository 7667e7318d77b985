-- 0007: the broker's leases (internal/broker): short-lived logins issued
-- to workloads from a role's template identity. Not tied to an incident,
-- so a table of their own. The secret is never stored: only who holds
-- which login of which system, until when, and where it is in its life.
--
-- state: issuing (written before the login is created, so a process that
-- dies mid-issue leaves a row the reaper finds), active, revoked (ended
-- before its expiry), reaped (ended by the reaper at expiry).
CREATE TABLE broker_leases (
    id             TEXT PRIMARY KEY,
    role           TEXT NOT NULL,
    system         TEXT NOT NULL,
    identity       TEXT NOT NULL,
    login          TEXT NOT NULL,
    holder         TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    max_expires_at TEXT NOT NULL,
    state          TEXT NOT NULL,
    updated        TEXT NOT NULL
);
CREATE UNIQUE INDEX broker_leases_login ON broker_leases (system, login);
CREATE INDEX broker_leases_by_expiry ON broker_leases (state, expires_at);
CREATE INDEX broker_leases_by_holder ON broker_leases (holder);
