-- Edit history (issue 10). The PostgreSQL twin of sqlite/0011. Times are unix milliseconds.

-- Each edit keeps the text it replaced: the channel's members see a message's earlier versions.
-- At most the 20 latest are kept per message: storing an edit trims the older ones.
-- Deleting a message drops its earlier versions with its text; deleting the row cascades.
CREATE TABLE chat_message_edits (
    id          BIGSERIAL PRIMARY KEY,
    message_id  BIGINT NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    replaced_at BIGINT NOT NULL
);
CREATE INDEX chat_message_edits_message ON chat_message_edits(message_id, id);
