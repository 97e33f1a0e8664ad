DROP TABLE moderation_flags;
UPDATE generations SET status = 'completed' WHERE status = 'flagged';
ALTER TABLE generations DROP CONSTRAINT generations_status_check;
ALTER TABLE generations ADD CONSTRAINT generations_status_check
    CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'canceled'));
