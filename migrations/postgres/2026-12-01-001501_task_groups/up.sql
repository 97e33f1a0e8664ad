-- Task groups (issue 13 items 3, 4): a batch or a comparison owned by a user. Its items point
-- at ordinary generation tasks; `generations` itself gets no column (diesel's 32-column limit).
-- A retried item points at its new task. Deleting a group leaves its tasks in the library.
CREATE TABLE task_groups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('batch', 'compare')),
    title TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX task_groups_user ON task_groups (user_id, id);

CREATE TABLE task_group_items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES task_groups (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    generation_id BIGINT NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    UNIQUE (group_id, position)
);
CREATE INDEX task_group_items_generation ON task_group_items (generation_id);
