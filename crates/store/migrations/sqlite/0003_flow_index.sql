-- The dashboard's arrivals per month read entries into care by date.
CREATE INDEX people_entered ON people (entered);
