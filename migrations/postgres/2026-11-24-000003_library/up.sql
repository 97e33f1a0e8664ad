-- Results library (seed 3.5, 4.2.3): the folder tree, favourites, tags and share links.
ALTER TABLE generations ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0;
CREATE INDEX generations_user_favorite ON generations (user_id, favorite, id);

-- Seed 4.2.3: folders and file nodes. A file node puts one result in one folder; a result
-- without a file node is unfiled. Deleting a folder deletes its subtree, and so its results
-- return to unfiled (seed 3.5.3.3 C).
CREATE TABLE collections (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id BIGINT REFERENCES collections (id) ON DELETE CASCADE,
    -- parent_id, or 0 at the root: NULLs never collide in a unique index, zeros do.
    parent_key BIGINT NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    node_type TEXT NOT NULL CHECK (node_type IN ('folder', 'file')),
    generation_id BIGINT UNIQUE REFERENCES generations (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX collections_user_parent ON collections (user_id, parent_id);
CREATE UNIQUE INDEX collections_sibling_names ON collections (user_id, parent_key, name) WHERE node_type = 'folder';

CREATE TABLE generation_tags (
    generation_id BIGINT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (generation_id, tag)
);
CREATE INDEX generation_tags_user_tag ON generation_tags (user_id, tag);
