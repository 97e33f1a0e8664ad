-- Monitoring alerts (issue 11 item 4): one row per incident. `open_key` is the rule and its
-- subject while the incident is open and NULL once resolved; its unique index lets only one
-- instance open (and mail) an incident, and only one resolve it.
CREATE TABLE ops_incidents (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    open_key TEXT,
    -- In the rule's unit: seconds, percent or MiB.
    value BIGINT NOT NULL,
    threshold BIGINT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE UNIQUE INDEX ops_incidents_open ON ops_incidents (open_key);
CREATE INDEX ops_incidents_opened ON ops_incidents (opened_at);
-- Retention (issue 11 item 5) deletes the oldest raw rows in batches by time.
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX api_calls_created ON api_calls (created_at);
