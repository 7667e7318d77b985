-- 0011: an incident's audit entries without reading the whole log.
-- Same portable rules as 0001.
--
-- The API reads one incident's entries on every GET /incidents/{id}
-- (who opened it, who started its run: separation of duties) and the
-- event stream polls them; the log only grows, so that read must not
-- scan it.
CREATE INDEX audit_log_incident ON audit_log (incident_id, seq);
