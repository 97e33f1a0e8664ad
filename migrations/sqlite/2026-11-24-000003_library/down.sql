DROP TABLE generation_tags;
DROP TABLE collections;
DROP INDEX generations_user_favorite;
ALTER TABLE generations DROP COLUMN favorite;
