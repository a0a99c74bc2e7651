-- The day a person's identity was destroyed by the retention policy (`refuge purge`).
ALTER TABLE people ADD COLUMN purged TEXT;
