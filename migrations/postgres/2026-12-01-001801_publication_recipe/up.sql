-- The gallery's type, vendor and model filters (issue 12 item 6): copied from the result onto
-- its publication (they never change once a result exists), so a rare filter is a range of its
-- own index instead of a walk over the newest works with one `generations` lookup each.
ALTER TABLE publications ADD COLUMN generation_type TEXT NOT NULL DEFAULT '';
ALTER TABLE publications ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE publications ADD COLUMN model TEXT NOT NULL DEFAULT '';
UPDATE publications SET generation_type = g.generation_type, provider = g.provider, model = g.model
    FROM generations g WHERE g.id = publications.generation_id;
CREATE INDEX publications_type ON publications (generation_type, published_at, id) WHERE unpublished_at IS NULL;
CREATE INDEX publications_provider ON publications (provider, published_at, id) WHERE unpublished_at IS NULL;
CREATE INDEX publications_model ON publications (model, published_at, id) WHERE unpublished_at IS NULL;
