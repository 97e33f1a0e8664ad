DROP TABLE moderation_words;
