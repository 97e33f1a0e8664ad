-- Results the moderation service flagged (issue 11 item 2) are kept but hidden: the task's
-- status becomes 'flagged' and this side table holds why (`generations` is at diesel's
-- 32-column limit). SQLite cannot ALTER a CHECK constraint; widening one is the documented
-- writable_schema edit (lang_altertable.html, "other kinds of table schema changes"): the
-- rows on disk are unchanged. RESET makes this connection re-read the schema; the CREATE
-- TABLE below bumps the schema cookie, so every other connection re-reads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''failed'', ''canceled'')', '''failed'', ''canceled'', ''flagged'')')
 WHERE type = 'table' AND name = 'generations';
PRAGMA writable_schema = RESET;

-- One row per flag: `source` says who raised it (provider: our moderation service; vendor:
-- the model service refused; admin), `decision` what became of it (pending until an admin
-- decides; approved: shown again; hidden: kept hidden; deleted: result and files removed).
CREATE TABLE moderation_flags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    generation_id BIGINT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('provider', 'vendor', 'admin')),
    service TEXT NOT NULL,
    categories TEXT NOT NULL,
    scores TEXT,
    detail TEXT,
    decision TEXT NOT NULL DEFAULT 'pending'
        CHECK (decision IN ('pending', 'approved', 'hidden', 'deleted')),
    decided_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX moderation_flags_queue ON moderation_flags (decision, id);
CREATE INDEX moderation_flags_generation ON moderation_flags (generation_id);
