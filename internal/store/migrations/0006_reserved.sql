-- 0006 is another branch's migration (issue 14 work in parallel). This
-- file only keeps the versions gapless on this branch: the lead deletes
-- it when merging, keeping the other branch's 0006. The statement below
-- changes nothing (the index exists since 0002).
CREATE INDEX IF NOT EXISTS leases_by_expiry ON leases (state, expires);
