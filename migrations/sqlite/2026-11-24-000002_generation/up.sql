-- The generations row IS the task (seed 4.1 ①): queue state, provider bookkeeping and result.
CREATE TABLE generations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'canceled')),
    generation_type TEXT NOT NULL CHECK (generation_type IN ('t2i', 'i2i', 't2v', 'i2v')),
    prompt TEXT,
    parameters TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    remote_task_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    progress INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_detail TEXT,
    result_url TEXT,
    physical_path TEXT,
    result_mime TEXT,
    result_bytes BIGINT,
    result_sha256 TEXT,
    width INTEGER,
    height INTEGER,
    thumb_path TEXT,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX generations_user_status ON generations (user_id, status);
CREATE INDEX generations_user_id ON generations (user_id, id);
CREATE INDEX generations_queue ON generations (status, provider, next_attempt_at, id);
CREATE INDEX generations_lease ON generations (status, lease_expires_at);

-- Reference images; `images` of a generation may name only the caller's own uploads.
CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    physical_path TEXT NOT NULL,
    mime TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX uploads_user ON uploads (user_id, id);

-- One row per provider call: the raw material of the per-model statistics.
CREATE TABLE api_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    generation_id BIGINT REFERENCES generations (id) ON DELETE SET NULL,
    operation TEXT NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    latency_ms BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX api_calls_model_time ON api_calls (provider, model, created_at);
