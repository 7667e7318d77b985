-- 0016: the public id of the credential a lease stands for (an AWS
-- access key id), when its system generated it: a user holds several
-- keys, so the login alone does not say which one to revoke or look up.
-- Never a secret. Same portable rules as 0001.
ALTER TABLE leases ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
