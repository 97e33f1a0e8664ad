DROP INDEX generations_updated;
ALTER TABLE generations DROP COLUMN result_meta;
