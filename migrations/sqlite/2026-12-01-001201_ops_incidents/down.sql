DROP INDEX api_calls_created;
DROP INDEX audit_log_created;
DROP TABLE ops_incidents;
