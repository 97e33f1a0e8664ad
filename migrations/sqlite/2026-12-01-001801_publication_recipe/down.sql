DROP INDEX publications_model;
DROP INDEX publications_provider;
DROP INDEX publications_type;
ALTER TABLE publications DROP COLUMN model;
ALTER TABLE publications DROP COLUMN provider;
ALTER TABLE publications DROP COLUMN generation_type;
