-- Scheduled backups (issue 11 item 6): one row per schedule. An instance makes the backup of
-- a time slot only if its UPDATE moved `slot` forward, so of several instances one makes it.
CREATE TABLE backup_schedule (
    name TEXT PRIMARY KEY NOT NULL,
    slot BIGINT NOT NULL,
    instance TEXT,
    claimed_at TIMESTAMP NOT NULL
);
