-- The people waiting (sheltered or detained) by where they want to go ('' while not asked)
-- and the day they started waiting, kept in step with `people` in every write like
-- `waiting_by_day`, so that the backlog by destination reads rows bounded by wishes and
-- days, not by people. `refuge verify` recounts it.
CREATE TABLE waiting_by_wish (
    wish   TEXT NOT NULL,
    since  TEXT NOT NULL,
    people INTEGER NOT NULL,
    PRIMARY KEY (wish, since)
) STRICT;
INSERT INTO waiting_by_wish (wish, since, people)
    SELECT COALESCE(wish, ''), waiting_since, COUNT(*) FROM people
    WHERE stage IN ('sheltered', 'detained') AND waiting_since IS NOT NULL
    GROUP BY COALESCE(wish, ''), waiting_since;
