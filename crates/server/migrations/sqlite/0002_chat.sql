-- Chat: channels (direct and group), members with their read position, messages.
-- Portable SQL: runs on SQLite and (with BIGSERIAL for the marked ids) PostgreSQL.
-- Times are unix milliseconds. Deleting a user deletes their memberships, their messages, the
-- groups they own and their direct channels (ON DELETE CASCADE all the way down).

CREATE TABLE chat_channels (
    id               INTEGER PRIMARY KEY,        -- BIGSERIAL on PostgreSQL
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name             TEXT,                       -- groups only
    owner_id         BIGINT REFERENCES users(id) ON DELETE CASCADE,   -- groups only
    -- A direct channel's two users, smaller id first; the pair is unique: one channel per pair.
    direct_lo        BIGINT REFERENCES users(id) ON DELETE CASCADE,
    direct_hi        BIGINT REFERENCES users(id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    CHECK (kind = 'group' OR (direct_lo IS NOT NULL AND direct_hi IS NOT NULL AND direct_lo < direct_hi)),
    CHECK (kind = 'direct' OR (owner_id IS NOT NULL AND name IS NOT NULL)),
    UNIQUE (direct_lo, direct_hi)
);
CREATE INDEX chat_channels_owner ON chat_channels(owner_id);
CREATE INDEX chat_channels_direct_hi ON chat_channels(direct_hi);

CREATE TABLE chat_members (
    channel_id   BIGINT NOT NULL REFERENCES chat_channels(id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at    BIGINT NOT NULL,
    last_read_id BIGINT NOT NULL DEFAULT 0,      -- id of the last message this member has read
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members(user_id);

-- Message ids are history cursors, so they must never be reused: AUTOINCREMENT on SQLite,
-- BIGSERIAL on PostgreSQL. Deleted messages keep their row (and id) with the text emptied.
CREATE TABLE chat_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- BIGSERIAL on PostgreSQL
    channel_id BIGINT NOT NULL REFERENCES chat_channels(id) ON DELETE CASCADE,
    author_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT,                              -- the sender's idempotency key, if any
    text       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    edited_at  BIGINT,
    deleted_at BIGINT,
    UNIQUE (channel_id, author_id, client_id)
);
CREATE INDEX chat_messages_channel ON chat_messages(channel_id, id);
CREATE INDEX chat_messages_author ON chat_messages(author_id);
