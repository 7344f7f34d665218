-- Factors beyond the password and the face: authenticator-app (TOTP) secrets, recovery codes,
-- passkeys, the WebAuthn ceremonies in flight, which factors each session has proven, and the
-- brute-force counters of the non-face second factors.

-- One TOTP secret per account, sealed like a face template (AES-256-GCM, user id bound).
-- A secret is usable once confirmed with a first code; last_step stops a code's replay.
CREATE TABLE totp_secrets (
    user_id      BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed       BLOB NOT NULL,                -- BYTEA on PostgreSQL; nonce||ciphertext
    confirmed_at BIGINT,                       -- NULL while the enrolment awaits its first code
    last_step    BIGINT,                       -- the last 30-second step whose code was accepted
    created_at   BIGINT NOT NULL
);

-- Single-use recovery codes, stored as SHA-256 (each code holds 80 random bits).
CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY,            -- BIGSERIAL on PostgreSQL
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL UNIQUE,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- WebAuthn credentials. `credential` is the relying party's record of the passkey (public key,
-- counter), as JSON; it holds no secret.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,         -- BIGSERIAL on PostgreSQL
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,        -- base64url, as the browser names it
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);

-- A WebAuthn ceremony between its start and its finish (the challenge the server issued),
-- found by the hash of a random id the client holds. Short-lived, single use.
CREATE TABLE webauthn_ceremonies (
    id_hash    TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in', 'second_factor')),
    user_id    BIGINT REFERENCES users(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies(expires_at);

-- The WebAuthn user handle: random, so it tells nothing about the account.
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;

-- Which factors a session has proven: the first step (password, passkey or recovery code) and,
-- at level full, the second.
ALTER TABLE sessions ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN second_factor TEXT;

-- Failures of the non-face second factors (TOTP, recovery codes), under the password's rules but
-- counted apart: a correct password must not reset them.
ALTER TABLE auth_counters ADD COLUMN second_consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE auth_counters ADD COLUMN second_last_failure_at BIGINT;
ALTER TABLE auth_counters ADD COLUMN second_window_start BIGINT;
ALTER TABLE auth_counters ADD COLUMN second_window_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unknown_login_counters ADD COLUMN second_consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unknown_login_counters ADD COLUMN second_last_failure_at BIGINT;
ALTER TABLE unknown_login_counters ADD COLUMN second_window_start BIGINT;
ALTER TABLE unknown_login_counters ADD COLUMN second_window_count INTEGER NOT NULL DEFAULT 0;
