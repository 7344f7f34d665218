-- Full-text search over chat messages (issue 10). SQLite only: an FTS5 index; on PostgreSQL the
-- same is a generated tsvector column on chat_messages with a GIN index (no triggers needed).
--
-- An external-content table: the index holds tokens only, the text stays in chat_messages and
-- `rowid` is the message id. Triggers keep it in step: a new message is indexed, an edit is
-- indexed anew (its old words are gone), a deletion empties the text (so nothing of it stays
-- findable), and a row removed with its channel is removed from the index.
-- `unicode61 remove_diacritics 2`: "cafe" finds "café"; case never matters.
CREATE VIRTUAL TABLE chat_messages_fts USING fts5(
    text,
    content = 'chat_messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER chat_messages_fts_insert AFTER INSERT ON chat_messages BEGIN
    INSERT INTO chat_messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER chat_messages_fts_delete AFTER DELETE ON chat_messages BEGIN
    INSERT INTO chat_messages_fts (chat_messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER chat_messages_fts_update AFTER UPDATE OF text ON chat_messages BEGIN
    INSERT INTO chat_messages_fts (chat_messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO chat_messages_fts (rowid, text) VALUES (new.id, new.text);
END;

-- Messages stored before this migration.
INSERT INTO chat_messages_fts (chat_messages_fts) VALUES ('rebuild');
