ALTER TABLE shares DROP COLUMN locked_until;
ALTER TABLE shares DROP COLUMN failed_attempts;
