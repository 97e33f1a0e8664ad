-- A person's own prompt templates (issue 13 item 5; src/prompts): a prompt with {placeholders}
-- and an optional negative prompt. Built-in templates live in the binary, not here.
CREATE TABLE prompt_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    negative_prompt TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One name once per person; also the index the list is read by.
CREATE UNIQUE INDEX prompt_templates_user_name ON prompt_templates (user_id, name);
