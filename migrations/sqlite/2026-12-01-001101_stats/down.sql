DROP TABLE stats_users;
DROP TABLE stats_failures;
DROP TABLE stats_latency;
DROP TABLE stats_models;
ALTER TABLE api_calls DROP COLUMN reason;
