-- Welfare checks (docs/welfare.md). A person's last check-in and latest self-harm incident
-- no check-in has answered yet, derived by the projection (the self-harm days of older logs
-- are filled in from the log once, on opening); what a check-in note found.
ALTER TABLE people ADD COLUMN checked_in TEXT;
ALTER TABLE people ADD COLUMN self_harm_unchecked TEXT;
ALTER TABLE notes ADD COLUMN wellbeing TEXT;
ALTER TABLE notes ADD COLUMN needs TEXT;
-- The checks due: the waiting, per location, by waiting start and last check; the few with
-- a self-harm incident on their own.
CREATE INDEX people_welfare ON people (location, waiting_since, checked_in) WHERE waiting_since IS NOT NULL;
CREATE INDEX people_self_harm_unchecked ON people (self_harm_unchecked) WHERE self_harm_unchecked IS NOT NULL;
