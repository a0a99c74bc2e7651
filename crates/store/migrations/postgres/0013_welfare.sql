-- See SQLite 0018.
ALTER TABLE people ADD COLUMN checked_in TEXT COLLATE "C";
ALTER TABLE people ADD COLUMN self_harm_unchecked TEXT COLLATE "C";
ALTER TABLE notes ADD COLUMN wellbeing TEXT COLLATE "C";
ALTER TABLE notes ADD COLUMN needs TEXT COLLATE "C";
CREATE INDEX people_welfare ON people (location, waiting_since, checked_in, self_harm_unchecked, flags, id) WHERE waiting_since IS NOT NULL;
CREATE INDEX people_self_harm_unchecked ON people (self_harm_unchecked) WHERE self_harm_unchecked IS NOT NULL;
