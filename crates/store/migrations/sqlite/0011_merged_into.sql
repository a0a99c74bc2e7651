-- A duplicate person record merged into the person's other record points at it; the
-- partial index finds the records merged into someone (their history is shown with them).
ALTER TABLE people ADD COLUMN merged_into TEXT;
CREATE INDEX people_merged_into ON people (merged_into) WHERE merged_into IS NOT NULL;
