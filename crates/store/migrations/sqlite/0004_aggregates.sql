-- Aggregates kept in step with `people` in every write transaction, so the backlog reads
-- rows bounded by locations and days, not by people. `refuge verify` recomputes them.
CREATE TABLE waiting_by_day (
    location TEXT NOT NULL,
    since    TEXT NOT NULL,
    people   INTEGER NOT NULL,
    PRIMARY KEY (location, since)
) STRICT;
INSERT INTO waiting_by_day (location, since, people)
    SELECT location, since, COUNT(*) FROM people WHERE stage IN ('sheltered', 'detained') GROUP BY location, since;

CREATE TABLE presence (
    location TEXT PRIMARY KEY,
    present  INTEGER NOT NULL
) STRICT;
INSERT INTO presence (location, present)
    SELECT location, COUNT(*) FROM people WHERE stage IN ('hiding', 'transit', 'sheltered', 'detained') GROUP BY location;
