-- The admin back office (issue 11, item 1): why an account is banned (shown to its owner when
-- refused), when it last signed in, and who did an action to whom in the audit log.
ALTER TABLE users ADD COLUMN ban_reason TEXT;
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMP;
UPDATE users SET last_login_at = (
    SELECT max(a.created_at) FROM audit_log a WHERE a.user_id = users.id AND a.action = 'login'
);
CREATE INDEX users_status_role ON users (status, role, id);

-- `user_id` stays the account an entry is about; `actor_id` is who did it when that is someone
-- else (an admin), and `target` names what it was done to when that is not an account.
ALTER TABLE audit_log ADD COLUMN actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE audit_log ADD COLUMN target TEXT;
-- The public id of an entry (the audit page pages by it); older entries get a random one.
ALTER TABLE audit_log ADD COLUMN uuid TEXT;
UPDATE audit_log SET uuid = gen_random_uuid()::text;
CREATE UNIQUE INDEX audit_log_uuid ON audit_log (uuid);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
