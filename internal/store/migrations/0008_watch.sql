-- 0008: what `watch` keeps between runs: how far each followed log was
-- read, each credential's baseline, and the canary logins.
-- Same portable rules as 0001.

-- How far a followed file was read. A file is keyed by a hash of its
-- first KiB of (decompressed) content, not by path or inode, which
-- rotation changes: app.log renamed app.log.1, then compressed to
-- app.log.2.gz, keeps its key. head_len is how many bytes the key hashes
-- (1024, or fewer for a file that was shorter when keyed: such a key is
-- replaced once the file grows past it). offset and line are in the
-- decompressed content; done marks a compressed file read to its end.
CREATE TABLE watch_offsets (
    key       TEXT PRIMARY KEY,
    head_len  INTEGER NOT NULL,
    byte_off  INTEGER NOT NULL,
    line_no   INTEGER NOT NULL DEFAULT 0,
    done      INTEGER NOT NULL DEFAULT 0,
    path      TEXT NOT NULL DEFAULT '',
    updated   TEXT NOT NULL
);
CREATE INDEX watch_offsets_short ON watch_offsets (head_len);

-- One credential's baseline (internal/watch's JSON: bounded sets of
-- sources, user agents, actions, hours and volume), keyed by the
-- credential as the logs name it (a login, an access key id).
CREATE TABLE watch_baselines (
    credential TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated    TEXT NOT NULL
);

-- Decoy logins: any use of one is a critical canary-use finding.
CREATE TABLE canaries (
    system     TEXT NOT NULL,
    login      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (system, login)
);
