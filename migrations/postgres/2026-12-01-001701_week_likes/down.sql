DROP INDEX likes_created;
DROP INDEX publications_week;
ALTER TABLE publications DROP COLUMN week_likes;
