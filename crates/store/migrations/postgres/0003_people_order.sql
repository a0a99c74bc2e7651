-- See SQLite 0008.
DROP INDEX people_stage_location;
CREATE INDEX people_stage_since ON people (stage, since, code);
-- The whole list, longest-waiting first, without sorting everyone.
CREATE INDEX people_since ON people (since, code);
CREATE INDEX people_self_harm_risk ON people (stage, since, code) WHERE flags LIKE '%,self_harm_risk,%';
CREATE INDEX people_medical_urgent ON people (stage, since, code) WHERE flags LIKE '%,medical_urgent,%';
-- The dashboard counts open incidents by location and severity from the index alone, and
-- lists the newest open ones without sorting them all.
DROP INDEX incidents_status;
CREATE INDEX incidents_status ON incidents (status, location, severity);
CREATE INDEX incidents_open_recent ON incidents (status, occurred);
