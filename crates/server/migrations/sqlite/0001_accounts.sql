-- Accounts, face templates, sessions, challenges, brute-force counters and the audit trail.
-- Portable SQL: runs on SQLite and (with BIGSERIAL/BYTEA for the marked columns) PostgreSQL.
-- Times are unix milliseconds. Everything of a user goes with the user (ON DELETE CASCADE).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,          -- BIGSERIAL on PostgreSQL
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,         -- lower-cased username, for uniqueness and login
    email         TEXT NOT NULL UNIQUE,         -- stored lower-cased
    full_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL,                -- argon2id PHC string
    consent_at    BIGINT NOT NULL,              -- when biometric consent was given
    created_at    BIGINT NOT NULL
);

-- One row per enrolled image: AES-256-GCM(descriptor) with the user id as associated data.
CREATE TABLE face_templates (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nonce      BLOB NOT NULL,                   -- BYTEA on PostgreSQL
    ciphertext BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX face_templates_user ON face_templates(user_id);

-- Sessions are found by the SHA-256 of their id; the id itself is never stored.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    level        TEXT NOT NULL CHECK (level IN ('password', 'full')),
    created_at   BIGINT NOT NULL,              -- start of the login, kept across level changes
    last_seen_at BIGINT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- One-time face challenge nonces (hashed), bound to the session that asked for them.
CREATE TABLE face_challenges (
    nonce_hash   TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL REFERENCES sessions(id_hash) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL
);

-- Per-account brute-force counters; in the database so a restart does not reset them.
CREATE TABLE auth_counters (
    user_id             BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    pw_consecutive      INTEGER NOT NULL DEFAULT 0,
    pw_last_failure_at  BIGINT,
    pw_window_start     BIGINT,
    pw_window_count     INTEGER NOT NULL DEFAULT 0,
    face_consecutive    INTEGER NOT NULL DEFAULT 0,
    face_last_failure_at BIGINT
);

-- Every auth event, shown to the account owner. user_id is NULL for unknown logins.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_user ON audit_events(user_id, at);
