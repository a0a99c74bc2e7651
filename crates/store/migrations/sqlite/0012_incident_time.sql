-- The time of day an incident happened ("HH:MM", as recorded); none for older incidents.
ALTER TABLE incidents ADD COLUMN occurred_time TEXT;
