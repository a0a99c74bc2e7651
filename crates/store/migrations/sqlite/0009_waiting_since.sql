-- Waiting for a transfer is counted from the first day in transit, a shelter or detention and
-- kept across moves (`waiting_since`); lists order by `queue_since` (that date, or for people
-- not waiting, their last move). The values set here assume no move between waiting places;
-- the store then corrects them from the event log once, on opening (meta
-- `waiting_since_from_events`), and recounts `waiting_by_day`, which is keyed by it now.
ALTER TABLE people ADD COLUMN waiting_since TEXT;
ALTER TABLE people ADD COLUMN queue_since TEXT NOT NULL DEFAULT '';
UPDATE people SET waiting_since = since WHERE stage IN ('transit', 'sheltered', 'detained');
UPDATE people SET queue_since = COALESCE(waiting_since, since);
DROP INDEX people_stage_since;
DROP INDEX people_since;
DROP INDEX people_self_harm_risk;
DROP INDEX people_medical_urgent;
CREATE INDEX people_stage_queue ON people (stage, queue_since, code);
CREATE INDEX people_queue ON people (queue_since, code);
CREATE INDEX people_self_harm_risk ON people (stage, queue_since, code) WHERE flags LIKE '%,self_harm_risk,%';
CREATE INDEX people_medical_urgent ON people (stage, queue_since, code) WHERE flags LIKE '%,medical_urgent,%';
