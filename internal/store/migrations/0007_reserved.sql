-- 0007: a placeholder, so that this branch's 0008_watch.sql has no gap
-- before it. Another branch adds the real 0007; the lead deletes this
-- file at merge. It has nothing to CREATE or ALTER.
SELECT 1;
