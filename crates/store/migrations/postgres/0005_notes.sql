-- See SQLite 0010.
CREATE TABLE notes (
    id             TEXT PRIMARY KEY,
    person         TEXT NOT NULL REFERENCES people (id),
    author         TEXT NOT NULL,
    written        TEXT COLLATE "C" NOT NULL,
    text           TEXT NOT NULL,
    follow_up      TEXT COLLATE "C",
    follow_up_done TEXT COLLATE "C",
    version        BIGINT NOT NULL
);
CREATE INDEX notes_person ON notes (person, written);
CREATE INDEX notes_due ON notes (follow_up) WHERE follow_up IS NOT NULL AND follow_up_done IS NULL;
