-- See SQLite 0011.
ALTER TABLE people ADD COLUMN merged_into TEXT COLLATE "C";
CREATE INDEX people_merged_into ON people (merged_into) WHERE merged_into IS NOT NULL;
