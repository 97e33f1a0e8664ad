-- The name's comparison form (Unicode NFKC + case fold), computed in Rust: SQLite's lower()
-- folds ASCII only. PictureDeck fills it for existing accounts at start-up and reports
-- accounts whose names collide instead of failing; until then (NULL) the old lower() rule
-- still finds them.
ALTER TABLE users ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
DROP INDEX users_username_lower;
