-- Welfare checks (docs/welfare.md). A person's last check-in and latest self-harm incident
-- no check-in has answered yet, derived by the projection (the self-harm days of older logs
-- are filled in from the log once, on opening); what a check-in note found.
ALTER TABLE people ADD COLUMN checked_in TEXT;
ALTER TABLE people ADD COLUMN self_harm_unchecked TEXT;
ALTER TABLE notes ADD COLUMN wellbeing TEXT;
ALTER TABLE notes ADD COLUMN needs TEXT;
-- The checks due: every column the query reads, so that counting and choosing the first
-- read the index alone (a full scan of 79,000 waiting rows took 100-200 ms at 300,000
-- people; the index alone 13 ms); the few with a self-harm incident on their own.
CREATE INDEX people_welfare ON people (location, waiting_since, checked_in, self_harm_unchecked, flags, id) WHERE waiting_since IS NOT NULL;
CREATE INDEX people_self_harm_unchecked ON people (self_harm_unchecked) WHERE self_harm_unchecked IS NOT NULL;
