-- See SQLite 0016.
-- A received record whose code is taken here by another record, under its local code.
CREATE TABLE local_codes (
    id   TEXT COLLATE "C" PRIMARY KEY,
    code TEXT NOT NULL
);
-- Since when (this installation's clock value) it held an event received from elsewhere:
-- an edit written here later knew it, so the two are not concurrent. NULL for its own.
ALTER TABLE events ADD COLUMN received BIGINT;
-- The same for other nodes, as their bundles said.
CREATE TABLE receipts (
    node  TEXT    NOT NULL,
    event TEXT    NOT NULL,
    hlc   BIGINT NOT NULL,
    PRIMARY KEY (node, event)
);
-- What a merge left for a person to settle: an edit replaced by a concurrent one from another
-- node (`shown` is what everyone sees), or an event that contradicts the ones before it in
-- the merged order and does not apply (`shown` NULL). Keyed by the event not shown.
CREATE TABLE conflicts (
    other  TEXT COLLATE "C" PRIMARY KEY,
    record TEXT NOT NULL,
    field  TEXT NOT NULL,
    shown  TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX conflicts_record ON conflicts (record);
