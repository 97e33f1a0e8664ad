-- "Most liked this week" (issue 12): each work's likes of the last seven days, kept beside
-- like_count so the week's order is an index scan instead of a count per work. A like adds one
-- at once; an hourly pass drops the likes that have aged out (src/gallery/week.rs).
ALTER TABLE publications ADD COLUMN week_likes BIGINT NOT NULL DEFAULT 0;
CREATE INDEX publications_week ON publications (week_likes, id) WHERE unpublished_at IS NULL;
-- The hourly pass finds the works with likes in the window.
CREATE INDEX likes_created ON likes (created_at);
UPDATE publications SET week_likes = (
    SELECT COUNT(*) FROM likes
    WHERE likes.publication_id = publications.id
      AND likes.created_at >= (now() AT TIME ZONE 'UTC') - INTERVAL '7 days'
);
