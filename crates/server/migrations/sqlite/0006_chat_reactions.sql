-- Reactions and replies (issue 10). Portable SQL: runs on SQLite and PostgreSQL. Times are unix
-- milliseconds. (0005 is the auth migration of issue 9; the two do not touch the same tables.)

-- One row per person, message and emoji: reacting twice with the same emoji is one reaction,
-- which the primary key makes a no-op. Deleting the message, or the person, removes the rows.
CREATE TABLE chat_reactions (
    message_id BIGINT NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX chat_reactions_user ON chat_reactions(user_id);

-- A reply names the earlier message of the same channel it answers. Messages are only ever
-- removed with their channel, so the reference cannot dangle inside a channel.
ALTER TABLE chat_messages ADD COLUMN reply_to BIGINT REFERENCES chat_messages(id) ON DELETE SET NULL;
