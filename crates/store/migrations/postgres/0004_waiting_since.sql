-- See SQLite 0009.
ALTER TABLE people ADD COLUMN waiting_since TEXT COLLATE "C";
ALTER TABLE people ADD COLUMN queue_since TEXT COLLATE "C";
UPDATE people SET waiting_since = since WHERE stage IN ('transit', 'sheltered', 'detained');
UPDATE people SET queue_since = COALESCE(waiting_since, since);
ALTER TABLE people ALTER COLUMN queue_since SET NOT NULL;
DROP INDEX people_stage_since;
DROP INDEX people_since;
DROP INDEX people_self_harm_risk;
DROP INDEX people_medical_urgent;
CREATE INDEX people_stage_queue ON people (stage, queue_since, code);
CREATE INDEX people_queue ON people (queue_since, code);
CREATE INDEX people_self_harm_risk ON people (stage, queue_since, code) WHERE flags LIKE '%,self_harm_risk,%';
CREATE INDEX people_medical_urgent ON people (stage, queue_since, code) WHERE flags LIKE '%,medical_urgent,%';
