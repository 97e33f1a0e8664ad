-- Wrong share passwords from any address count on the share itself; enough of them lock it
-- for a while, and its owner sees that in the share list.
ALTER TABLE shares ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shares ADD COLUMN locked_until TIMESTAMP;
