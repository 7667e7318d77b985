-- 0012 is another branch's migration (work in parallel). This file only
-- keeps the versions gapless on this branch: the lead deletes it when
-- merging, keeping the other branch's 0012. The statement below changes
-- nothing (the index exists since 0011).
CREATE INDEX IF NOT EXISTS audit_log_incident ON audit_log (incident_id, seq);
