-- Threads and server-side mute (issue 10). Portable SQL: postgres/0012 is the same text.
-- Times are unix milliseconds.

-- A thread reply names its root: a top-level message of the same channel. Replies stay out of
-- the channel's timeline and unread count; the root shows how many there are. Deleting the
-- root's row (its author's account) lets its replies into the timeline rather than lose them.
ALTER TABLE chat_messages ADD COLUMN thread_root BIGINT REFERENCES chat_messages(id) ON DELETE SET NULL;
CREATE INDEX chat_messages_thread ON chat_messages(thread_root, id);

-- A person's read position inside one thread: a thread has its own unread state. A row also
-- means the person follows the thread (they opened it or replied in it; a root's author
-- follows without one).
CREATE TABLE chat_thread_reads (
    root_id      BIGINT NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_read_id BIGINT NOT NULL,
    PRIMARY KEY (root_id, user_id)
);
CREATE INDEX chat_thread_reads_user ON chat_thread_reads(user_id);

-- Mute is the member's own, kept by the server so it follows them to every device: a muted
-- conversation sends no notification and stays out of the tab title's count.
ALTER TABLE chat_members ADD COLUMN muted_at BIGINT;
