-- Keyword search by index (issue 12 item 6). The application writes the terms of a work or a
-- result (src/search.rs: lower-cased words, and every Chinese/Japanese/Korean character and
-- pair of neighbouring characters, so 1- and 2-character queries hit the index); SQLite indexes
-- them with FTS5, PostgreSQL with a GIN index on a tsvector. Rows go with their work or result.
-- Existing rows get their terms from `search::backfill` right after this migration.
CREATE TABLE publication_search (
    publication_id INTEGER PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
    terms TEXT NOT NULL
);
-- A result's terms carry its owner ("u42x猫"): the index answers one user's search alone.
CREATE TABLE generation_search (
    generation_id INTEGER PRIMARY KEY REFERENCES generations (id) ON DELETE CASCADE,
    terms TEXT NOT NULL
);

-- External-content FTS5 tables over the two, kept in step by triggers (a cascade from a
-- deleted work or result fires them too). Terms are pre-split, so unicode61 only splits on
-- spaces; no diacritics folding, so the index and the LIKE re-check agree.
CREATE VIRTUAL TABLE publication_fts USING fts5(
    terms, content = 'publication_search', content_rowid = 'publication_id',
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER publication_search_ai AFTER INSERT ON publication_search BEGIN
    INSERT INTO publication_fts (rowid, terms) VALUES (new.publication_id, new.terms);
END;
CREATE TRIGGER publication_search_ad AFTER DELETE ON publication_search BEGIN
    INSERT INTO publication_fts (publication_fts, rowid, terms)
        VALUES ('delete', old.publication_id, old.terms);
END;
CREATE TRIGGER publication_search_au AFTER UPDATE ON publication_search BEGIN
    INSERT INTO publication_fts (publication_fts, rowid, terms)
        VALUES ('delete', old.publication_id, old.terms);
    INSERT INTO publication_fts (rowid, terms) VALUES (new.publication_id, new.terms);
END;

CREATE VIRTUAL TABLE generation_fts USING fts5(
    terms, content = 'generation_search', content_rowid = 'generation_id',
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER generation_search_ai AFTER INSERT ON generation_search BEGIN
    INSERT INTO generation_fts (rowid, terms) VALUES (new.generation_id, new.terms);
END;
CREATE TRIGGER generation_search_ad AFTER DELETE ON generation_search BEGIN
    INSERT INTO generation_fts (generation_fts, rowid, terms)
        VALUES ('delete', old.generation_id, old.terms);
END;
CREATE TRIGGER generation_search_au AFTER UPDATE ON generation_search BEGIN
    INSERT INTO generation_fts (generation_fts, rowid, terms)
        VALUES ('delete', old.generation_id, old.terms);
    INSERT INTO generation_fts (rowid, terms) VALUES (new.generation_id, new.terms);
END;
