-- 0004: an HMAC beside each audit entry's hash, keyed outside the
-- database (internal/audit), so that whoever can write the store but
-- lacks the key cannot append or rewrite entries that verify. Entries
-- written before this migration keep an empty mac and are reported as
-- such; the SHA-256 chain is unchanged.

ALTER TABLE audit_log ADD COLUMN mac TEXT NOT NULL DEFAULT '';
