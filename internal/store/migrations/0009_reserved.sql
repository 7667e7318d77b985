-- 0009: reserved for the tokens table (internal/token), which lands on
-- another branch; this placeholder keeps the versions gapless until then
-- and is deleted when that branch is merged. It leaves nothing behind.
CREATE TABLE reserved_0009 (n INTEGER);
DROP TABLE reserved_0009;
