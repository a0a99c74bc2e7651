-- refuge schema, PostgreSQL: the same tables as SQLite's migrations 0001-0006 leave, in one
-- step. Text columns use the "C" collation so that codes and dates sort exactly as on SQLite.
-- Protected values are stored sealed (text starting with "s1.").

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE events (
    node      TEXT COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    id        TEXT   NOT NULL UNIQUE,
    hlc       BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    kind      TEXT   COLLATE "C" NOT NULL,
    subject   TEXT   NOT NULL,
    body      TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX events_subject ON events (subject);
CREATE INDEX events_order ON events (hlc, node, seq);
CREATE INDEX events_kind ON events (kind);

CREATE TABLE users (
    id        TEXT PRIMARY KEY,
    name      TEXT COLLATE "C" NOT NULL UNIQUE,
    role      TEXT NOT NULL,
    locations TEXT NOT NULL,
    active    BOOLEAN NOT NULL,
    version   BIGINT NOT NULL
);

-- The data key wrapped under each credential (a user's passphrase or an API token).
CREATE TABLE key_wraps (
    credential TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    wrapped    TEXT NOT NULL
);

CREATE TABLE locations (
    id       TEXT PRIMARY KEY,
    code     TEXT COLLATE "C" NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    country  TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    name     TEXT,
    address  TEXT,
    version  BIGINT NOT NULL
);

CREATE TABLE households (
    id            TEXT PRIMARY KEY,
    code          TEXT COLLATE "C" NOT NULL UNIQUE,
    head          TEXT,
    split_allowed BOOLEAN NOT NULL,
    version       BIGINT NOT NULL
);

CREATE TABLE people (
    id              TEXT PRIMARY KEY,
    code            TEXT COLLATE "C" NOT NULL UNIQUE,
    household       TEXT NOT NULL REFERENCES households (id),
    sex             TEXT NOT NULL,
    birth_year      BIGINT,
    flags           TEXT COLLATE "C" NOT NULL,
    stage           TEXT COLLATE "C" NOT NULL,
    location        TEXT COLLATE "C" NOT NULL REFERENCES locations (id),
    since           TEXT COLLATE "C" NOT NULL,
    entered         TEXT COLLATE "C" NOT NULL,
    documents_ready BOOLEAN NOT NULL,
    screening_done  BOOLEAN NOT NULL,
    hold            TEXT,
    sealed          TEXT NOT NULL,
    name_index      BIGINT,
    duplicate_index BIGINT,
    version         BIGINT NOT NULL
);
CREATE INDEX people_stage_location ON people (stage, location, since);
CREATE INDEX people_location ON people (location, stage);
CREATE INDEX people_household ON people (household);
CREATE INDEX people_name_index ON people (name_index);
CREATE INDEX people_duplicate_index ON people (duplicate_index);

CREATE TABLE incidents (
    id        TEXT PRIMARY KEY,
    code      TEXT COLLATE "C" NOT NULL UNIQUE,
    location  TEXT COLLATE "C" NOT NULL REFERENCES locations (id),
    kind      TEXT NOT NULL,
    severity  BIGINT NOT NULL,
    people    TEXT NOT NULL,
    status    TEXT COLLATE "C" NOT NULL,
    occurred  TEXT COLLATE "C" NOT NULL,
    closed    TEXT,
    narrative TEXT,
    version   BIGINT NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, location);

CREATE TABLE batches (
    id          TEXT PRIMARY KEY,
    code        TEXT COLLATE "C" NOT NULL UNIQUE,
    departure   TEXT COLLATE "C" NOT NULL,
    seats       BIGINT NOT NULL,
    origins     TEXT NOT NULL,
    destination TEXT NOT NULL REFERENCES locations (id),
    status      TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    pins        TEXT NOT NULL,
    version     BIGINT NOT NULL
);
CREATE INDEX batches_status ON batches (status, departure);

-- Append-only, hash-chained record of logins, failed logins, reveals and exports.
CREATE TABLE access_log (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- Aggregates kept in step with `people` in every write transaction (see SQLite 0004, 0005).
CREATE TABLE waiting_by_day (
    location TEXT COLLATE "C" NOT NULL,
    since    TEXT COLLATE "C" NOT NULL,
    people   BIGINT NOT NULL,
    PRIMARY KEY (location, since)
);
CREATE TABLE presence (
    location TEXT COLLATE "C" PRIMARY KEY,
    present  BIGINT NOT NULL
);
CREATE TABLE flow_by_month (
    month    TEXT COLLATE "C" PRIMARY KEY,
    entered  BIGINT NOT NULL,
    departed BIGINT NOT NULL
);

-- The logs refuse updates, deletes and truncation.
CREATE FUNCTION refuge_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % is append-only', TG_ARGV[0];
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuge_append_only('event log');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuge_append_only('event log');
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION refuge_append_only('access log');
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuge_append_only('access log');
