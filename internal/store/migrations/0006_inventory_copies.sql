-- 0006: the inventory each incident was opened with, byte for byte, so
-- that what planned and ran it can be read again (`incident show ID
-- --inventory`) and a server can work from the same inventory as the CLI
-- that opened it. An inventory holds references (env:, file:), never what
-- they resolve to: an inline secret makes it invalid before it is stored.
-- Opening the incident again with another inventory replaces the copy.
CREATE TABLE incident_inventories (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    body        TEXT NOT NULL,
    saved       TEXT NOT NULL
);
