-- People entering care and departing, per month, kept in each write transaction; backfilled
-- here from the event log. `refuge verify` recounts it from the log.
CREATE TABLE flow_by_month (
    month    TEXT PRIMARY KEY,
    entered  INTEGER NOT NULL,
    departed INTEGER NOT NULL
) STRICT;
INSERT INTO flow_by_month (month, entered, departed)
    SELECT month, SUM(entered), SUM(departed) FROM (
        SELECT substr(json_extract(body, '$.person.entered'), 1, 7) AS month, 1 AS entered, 0 AS departed
            FROM events WHERE kind = 'person_added'
        UNION ALL
        SELECT substr(json_extract(body, '$.at'), 1, 7), 0, 1
            FROM events WHERE kind = 'person_moved' AND json_extract(body, '$.stage') = 'departed'
    ) GROUP BY month;
