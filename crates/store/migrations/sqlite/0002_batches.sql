-- Transfer batches: a draft is planned (and re-planned), confirmed, departed, completed.
CREATE TABLE batches (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    departure   TEXT NOT NULL,
    seats       INTEGER NOT NULL,
    origins     TEXT NOT NULL,
    destination TEXT NOT NULL REFERENCES locations (id),
    status      TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    pins        TEXT NOT NULL,
    version     INTEGER NOT NULL
) STRICT;
CREATE INDEX batches_status ON batches (status, departure);
