DROP TABLE api_calls;
DROP TABLE uploads;
DROP TABLE generations;
