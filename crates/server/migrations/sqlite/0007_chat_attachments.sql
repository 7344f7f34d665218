-- Chat attachments (issue 10). Portable SQL: runs on SQLite and (BYTEA for BLOB, BIGSERIAL for
-- the marked id) PostgreSQL. Times are unix milliseconds.
--
-- The bytes live in the database so that every node behind a load balancer serves every
-- attachment with nothing else to share or back up; an S3-compatible store is left for later.
-- Metadata and bytes are two tables so that listing a page of history never reads a blob.

-- An attachment is uploaded into one channel by one member, then named by one message of that
-- channel (message_id stays NULL until then; unsent ones are pruned after a day). Deleting the
-- channel, the message or the uploader deletes it.
CREATE TABLE chat_attachments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- BIGSERIAL on PostgreSQL
    channel_id   BIGINT NOT NULL REFERENCES chat_channels(id) ON DELETE CASCADE,
    uploader_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id   BIGINT REFERENCES chat_messages(id) ON DELETE CASCADE,
    -- 'image': re-encoded by the server (no metadata), shown inline, has a thumbnail.
    -- 'file': stored as sent, only ever downloaded as application/octet-stream.
    kind         TEXT NOT NULL CHECK (kind IN ('image', 'file')),
    name         TEXT NOT NULL,                      -- sanitised file name
    content_type TEXT NOT NULL,                      -- what the server serves, never the client's
    size         BIGINT NOT NULL,                    -- bytes of the main blob
    stored_bytes BIGINT NOT NULL,                    -- every blob together: counts toward the quota
    width        BIGINT,                             -- images only
    height       BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX chat_attachments_message ON chat_attachments(message_id);
CREATE INDEX chat_attachments_uploader ON chat_attachments(uploader_id);
CREATE INDEX chat_attachments_channel ON chat_attachments(channel_id);

-- 'main' is the file (or re-encoded image), 'thumb' an image's thumbnail.
CREATE TABLE chat_attachment_blobs (
    attachment_id BIGINT NOT NULL REFERENCES chat_attachments(id) ON DELETE CASCADE,
    variant       TEXT NOT NULL CHECK (variant IN ('main', 'thumb')),
    data          BLOB NOT NULL,
    PRIMARY KEY (attachment_id, variant)
);
