-- Where a person wants to go ("KR", "undecided" or "stay") and the day they said so; NULL
-- while not asked.
ALTER TABLE people ADD COLUMN wish TEXT;
ALTER TABLE people ADD COLUMN wish_recorded TEXT;
