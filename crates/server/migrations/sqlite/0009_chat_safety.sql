-- Blocking people and reporting messages (issue 10). Portable SQL: runs on SQLite and (with
-- BIGSERIAL for the marked id) PostgreSQL. Times are unix milliseconds.

-- blocker_id no longer gets direct messages from blocked_id, and does not see their messages.
-- Deleting either account removes the row.
CREATE TABLE chat_blocks (
    blocker_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX chat_blocks_blocked ON chat_blocks(blocked_id);

-- A member's report of a message, for the operators (`facegate admin reports`). The reported
-- text is copied, so a report still says what was written once the author deletes the message
-- or the channel goes; the ids are kept as plain numbers for the same reason. One report per
-- person and message.
CREATE TABLE chat_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- BIGSERIAL on PostgreSQL
    reporter_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id  BIGINT NOT NULL,
    channel_id  BIGINT NOT NULL,
    author_id   BIGINT NOT NULL,
    author_name TEXT NOT NULL,                      -- username when reported
    text        TEXT NOT NULL,                      -- the message when reported
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (reporter_id, message_id)
);
CREATE INDEX chat_reports_created ON chat_reports(created_at);
