-- See SQLite 0012.
ALTER TABLE incidents ADD COLUMN occurred_time TEXT COLLATE "C";
