-- The admins' own moderation terms (issue 11 item 2); the shipped list lives in the binary.
-- `norm` is the term as the matcher compares it, so one term is not listed twice.
CREATE TABLE moderation_words (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    word TEXT NOT NULL,
    norm TEXT NOT NULL UNIQUE,
    lang TEXT NOT NULL CHECK (lang IN ('zh', 'en')),
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
