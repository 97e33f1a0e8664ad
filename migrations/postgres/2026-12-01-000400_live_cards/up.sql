-- What the engine reports about a result beyond the file (the built-in painter's understood
-- and undrawable words), as JSON.
ALTER TABLE generations ADD COLUMN result_meta TEXT;
-- The live stream's change poll (other instances, other writers) reads by updated_at.
CREATE INDEX generations_updated ON generations (updated_at);
