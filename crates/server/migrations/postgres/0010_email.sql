-- Email: verified addresses and the single-use links sent to them (address verification and
-- password reset), stored as SHA-256 of the token, for 15 minutes (reset) or 24 hours (verify).
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    -- The address the link was sent to: a link stops working once the account's email changes.
    email      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens(user_id);
