-- Full-text search over chat messages (issue 10); the PostgreSQL twin of sqlite/0008 (FTS5).
--
-- A GIN index on the message text's tsvector, so no triggers are needed: an edit or a deletion
-- (text emptied) re-indexes itself. The configuration `facegate_search` splits words like
-- `simple` (no stemming, no stop words: names and short words are found) and drops accents as
-- SQLite's `remove_diacritics` does, so "cafe" finds "Café" on both engines. `unaccent` ships
-- with PostgreSQL and is a trusted extension: the database owner may create it. It goes in
-- `public` so that databases with one schema per tenant (or per test) share it.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;

CREATE TEXT SEARCH CONFIGURATION facegate_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION facegate_search
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH public.unaccent, simple;

CREATE INDEX chat_messages_search ON chat_messages
    USING GIN (to_tsvector('facegate_search', text));
