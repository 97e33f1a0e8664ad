DROP INDEX audit_log_action;
DROP INDEX audit_log_actor;
DROP INDEX audit_log_uuid;
ALTER TABLE audit_log DROP COLUMN uuid;
ALTER TABLE audit_log DROP COLUMN target;
ALTER TABLE audit_log DROP COLUMN actor_id;
DROP INDEX users_status_role;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN ban_reason;
