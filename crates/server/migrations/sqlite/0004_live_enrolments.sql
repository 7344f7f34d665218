-- Live enrolments waiting for the registration (or re-enrolment) that uses them: the
-- descriptors of the 3 frames a live check kept, sealed like templates but bound to the token
-- (hashed) instead of a user id. Single use, short-lived; never images.
CREATE TABLE live_enrolments (
    token_hash TEXT PRIMARY KEY,
    -- Set for a re-enrolment: only that account may use the token. NULL at registration.
    user_id    BIGINT REFERENCES users(id) ON DELETE CASCADE,
    sealed     BLOB NOT NULL,                 -- BYTEA on PostgreSQL; nonce||ciphertext per descriptor
    expires_at BIGINT NOT NULL
);
CREATE INDEX live_enrolments_expiry ON live_enrolments(expires_at);
