DROP TABLE generation_search;
DROP TABLE publication_search;
