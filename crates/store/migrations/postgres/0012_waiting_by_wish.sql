-- See SQLite 0017.
CREATE TABLE waiting_by_wish (
    wish   TEXT COLLATE "C" NOT NULL,
    since  TEXT COLLATE "C" NOT NULL,
    people BIGINT NOT NULL,
    PRIMARY KEY (wish, since)
);
INSERT INTO waiting_by_wish (wish, since, people)
    SELECT COALESCE(wish, ''), waiting_since, COUNT(*) FROM people
    WHERE stage IN ('sheltered', 'detained') AND waiting_since IS NOT NULL
    GROUP BY COALESCE(wish, ''), waiting_since;
