-- Keyword search by index (issue 12 item 6). The application writes the terms of a work or a
-- result (src/search.rs: lower-cased words, and every Chinese/Japanese/Korean character and
-- pair of neighbouring characters, so 1- and 2-character queries hit the index); SQLite indexes
-- them with FTS5, PostgreSQL with a GIN index on a tsvector. Rows go with their work or result.
-- Existing rows get their terms from `search::backfill` right after this migration.
-- Core full-text search only: no extension, so this runs on any fresh database and user.
CREATE TABLE publication_search (
    publication_id BIGINT PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
    terms TEXT NOT NULL,
    -- 'simple': no stemming and no stop words; the terms are already split and lower-cased.
    vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED
);
CREATE INDEX publication_search_vector ON publication_search USING GIN (vector);

-- A result's terms carry its owner ("u42x猫"): the index answers one user's search alone.
CREATE TABLE generation_search (
    generation_id BIGINT PRIMARY KEY REFERENCES generations (id) ON DELETE CASCADE,
    terms TEXT NOT NULL,
    vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED
);
CREATE INDEX generation_search_vector ON generation_search USING GIN (vector);
