DROP TABLE audit_log;
DROP TABLE email_codes;
DROP TABLE users;
