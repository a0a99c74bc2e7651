-- Case notes: dated, sealed, by their author; a follow-up date stays due until done.
CREATE TABLE notes (
    id             TEXT PRIMARY KEY,
    person         TEXT NOT NULL REFERENCES people (id),
    author         TEXT NOT NULL,
    written        TEXT NOT NULL,
    text           TEXT NOT NULL,
    follow_up      TEXT,
    follow_up_done TEXT,
    version        INTEGER NOT NULL
) STRICT;
-- A person's notes, newest first.
CREATE INDEX notes_person ON notes (person, written);
-- The follow-ups still due, soonest first, without reading every note.
CREATE INDEX notes_due ON notes (follow_up) WHERE follow_up IS NOT NULL AND follow_up_done IS NULL;
