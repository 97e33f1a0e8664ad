DROP TABLE comments;
DROP TABLE follows;
DROP TABLE favorites;
DROP TABLE likes;
DROP TABLE publication_tags;
DROP TABLE publications;
