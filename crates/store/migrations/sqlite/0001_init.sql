-- refuge schema, SQLite. Projection tables are rebuilt by replaying `events`; `refuge verify`
-- checks that they match. Protected values are stored sealed (text starting with "s1.").

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE events (
    node      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    id        TEXT    NOT NULL UNIQUE,
    hlc       INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    PRIMARY KEY (node, seq)
) STRICT;
CREATE INDEX events_subject ON events (subject);
CREATE INDEX events_order ON events (hlc, node, seq);

CREATE TABLE users (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    role      TEXT NOT NULL,
    locations TEXT NOT NULL,
    active    INTEGER NOT NULL,
    version   INTEGER NOT NULL
) STRICT;

-- The data key wrapped under each credential (a user's passphrase or an API token).
CREATE TABLE key_wraps (
    credential TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    wrapped    TEXT NOT NULL
) STRICT;

CREATE TABLE locations (
    id       TEXT PRIMARY KEY,
    code     TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    country  TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    name     TEXT,
    address  TEXT,
    version  INTEGER NOT NULL
) STRICT;

CREATE TABLE households (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    head          TEXT,
    split_allowed INTEGER NOT NULL,
    version       INTEGER NOT NULL
) STRICT;

CREATE TABLE people (
    id              TEXT PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    household       TEXT NOT NULL REFERENCES households (id),
    sex             TEXT NOT NULL,
    birth_year      INTEGER,
    flags           TEXT NOT NULL,
    stage           TEXT NOT NULL,
    location        TEXT NOT NULL REFERENCES locations (id),
    since           TEXT NOT NULL,
    entered         TEXT NOT NULL,
    documents_ready INTEGER NOT NULL,
    screening_done  INTEGER NOT NULL,
    hold            TEXT,
    sealed          TEXT NOT NULL,
    name_index      INTEGER,
    duplicate_index INTEGER,
    version         INTEGER NOT NULL
) STRICT;
-- The backlog reads waiting people by stage and location only: no full scan.
CREATE INDEX people_stage_location ON people (stage, location, since);
CREATE INDEX people_location ON people (location, stage);
CREATE INDEX people_household ON people (household);
CREATE INDEX people_name_index ON people (name_index);
CREATE INDEX people_duplicate_index ON people (duplicate_index);

CREATE TABLE incidents (
    id        TEXT PRIMARY KEY,
    code      TEXT NOT NULL UNIQUE,
    location  TEXT NOT NULL REFERENCES locations (id),
    kind      TEXT NOT NULL,
    severity  INTEGER NOT NULL,
    people    TEXT NOT NULL,
    status    TEXT NOT NULL,
    occurred  TEXT NOT NULL,
    closed    TEXT,
    narrative TEXT,
    version   INTEGER NOT NULL
) STRICT;
CREATE INDEX incidents_status ON incidents (status, location);

-- Append-only, hash-chained record of logins, failed logins, reveals and exports.
CREATE TABLE access_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
