DROP INDEX users_username_key;
ALTER TABLE users DROP COLUMN username_key;
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
