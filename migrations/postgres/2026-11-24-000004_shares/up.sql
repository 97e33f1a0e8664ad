-- Share links for one result or one folder: an unguessable token, optional expiry and
-- password, revocable, with a view count.
CREATE TABLE shares (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation_id BIGINT REFERENCES generations (id) ON DELETE CASCADE,
    collection_id BIGINT REFERENCES collections (id) ON DELETE CASCADE,
    password_hash TEXT,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    views BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX shares_user ON shares (user_id, id);
