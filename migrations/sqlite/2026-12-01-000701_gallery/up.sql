-- The public gallery (issue 12): a published result is a row here, beside its generation
-- (the generations table is at diesel's 32-column limit). Unpublishing keeps the row, so a
-- work keeps its public id and an admin's reason stays for the author to read.
CREATE TABLE publications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    generation_id BIGINT NOT NULL UNIQUE REFERENCES generations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    hide_prompt INTEGER NOT NULL DEFAULT 0,
    -- Lower-cased title, description, tags and (unless hidden) prompt: what keyword search reads.
    search_text TEXT NOT NULL DEFAULT '',
    -- Kept by the statement that adds or removes a like or favourite (count + 1 / - 1), never
    -- read, changed and written back.
    like_count BIGINT NOT NULL DEFAULT 0,
    favorite_count BIGINT NOT NULL DEFAULT 0,
    published_at TIMESTAMP NOT NULL,
    unpublished_at TIMESTAMP,
    unpublish_reason TEXT,
    unpublished_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Keyset pages: newest, most liked, and one author's works.
CREATE INDEX publications_newest ON publications (published_at, id) WHERE unpublished_at IS NULL;
CREATE INDEX publications_liked ON publications (like_count, id) WHERE unpublished_at IS NULL;
CREATE INDEX publications_user ON publications (user_id, published_at, id);

CREATE TABLE publication_tags (
    publication_id BIGINT NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (publication_id, tag)
);
CREATE INDEX publication_tags_tag ON publication_tags (tag, publication_id);

-- One like and one favourite per person per work: the primary key says so, whatever races.
CREATE TABLE likes (
    publication_id BIGINT NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (publication_id, user_id)
);
-- "Most liked this week" counts a work's recent likes.
CREATE INDEX likes_recent ON likes (publication_id, created_at);

CREATE TABLE favorites (
    publication_id BIGINT NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (publication_id, user_id)
);
CREATE INDEX favorites_user ON favorites (user_id, created_at);

CREATE TABLE follows (
    follower_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    publication_id BIGINT NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_work ON comments (publication_id, id);
