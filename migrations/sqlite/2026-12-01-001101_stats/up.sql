-- Statistics (issue 11 item 3): rollups kept up to date in the same transaction as the
-- api_calls rows and task changes they count, so the admin page never scans raw rows (which
-- retention prunes). Every counter is a sum, so rows from several instances add up.

-- Why a call failed: the engine's error code (auth, moderation, bad_request ...) or, for a
-- transient failure, its class (rate_limited, server_error, network, http_NNN). NULL: it worked.
ALTER TABLE api_calls ADD COLUMN reason TEXT;

-- SQLite: WITHOUT ROWID keeps each table clustered on its key, so a range read walks the
-- rows themselves rather than an index and then the rows.

-- Per provider and model and UTC hour: calls and what the tasks produced.
CREATE TABLE stats_models (
    bucket_at TIMESTAMP NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    failed_calls BIGINT NOT NULL DEFAULT 0,
    latency_ms_sum BIGINT NOT NULL DEFAULT 0,
    tasks_completed BIGINT NOT NULL DEFAULT 0,
    tasks_failed BIGINT NOT NULL DEFAULT 0,
    images BIGINT NOT NULL DEFAULT 0,
    video_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_at, provider, model)
) WITHOUT ROWID;

-- Call latency per provider, model and UTC day as a histogram with fixed log-scale slots
-- (slot k holds [2^(k/2), 2^((k+1)/2)) ms): histograms add up, percentiles do not.
CREATE TABLE stats_latency (
    day TIMESTAMP NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    slot INTEGER NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, provider, model, slot)
) WITHOUT ROWID;

-- Failed calls and failed tasks per reason, provider, model and UTC day.
CREATE TABLE stats_failures (
    day TIMESTAMP NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    reason TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    tasks BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, provider, model, reason)
) WITHOUT ROWID;

-- Per user (no foreign key: the history outlives a deleted account), provider, model, UTC day.
CREATE TABLE stats_users (
    day TIMESTAMP NOT NULL,
    user_id BIGINT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    failed_calls BIGINT NOT NULL DEFAULT 0,
    latency_ms_sum BIGINT NOT NULL DEFAULT 0,
    tasks_completed BIGINT NOT NULL DEFAULT 0,
    tasks_failed BIGINT NOT NULL DEFAULT 0,
    images BIGINT NOT NULL DEFAULT 0,
    video_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, user_id, provider, model)
) WITHOUT ROWID;
