-- 0012: a canary that is a key, not a login (AWS IAM: a user with one
-- access key). The logs name the key (CloudTrail's accessKeyId), so the
-- watcher matches its use by key_id; login stays the user, the identity
-- a containment acts on. '' for a canary that is a login.
-- Same portable rules as 0001.
ALTER TABLE canaries ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
