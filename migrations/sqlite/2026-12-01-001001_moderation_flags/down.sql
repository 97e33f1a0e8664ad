DROP TABLE moderation_flags;
UPDATE generations SET status = 'completed' WHERE status = 'flagged';
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''failed'', ''canceled'', ''flagged'')', '''failed'', ''canceled'')')
 WHERE type = 'table' AND name = 'generations';
PRAGMA writable_schema = RESET;
CREATE TABLE moderation_flags_down_bump (id INTEGER);
DROP TABLE moderation_flags_down_bump;
