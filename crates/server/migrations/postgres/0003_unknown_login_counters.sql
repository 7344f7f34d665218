-- Password failure counters of logins that match no account. An unknown login is throttled
-- exactly like a real account's wrong passwords: a lockout only real accounts could reach would
-- tell an attacker which logins exist. Same columns as auth_counters (the face ones stay unused)
-- so one set of statements serves both; keyed by a keyed hash of the normalised login, never the
-- login itself. Rows are pruned once no lockout rule depends on them.
CREATE TABLE unknown_login_counters (
    login_key           TEXT PRIMARY KEY,
    pw_consecutive      BIGINT NOT NULL DEFAULT 0,
    pw_last_failure_at  BIGINT,
    pw_window_start     BIGINT,
    pw_window_count     BIGINT NOT NULL DEFAULT 0,
    face_consecutive    BIGINT NOT NULL DEFAULT 0,
    face_last_failure_at BIGINT
);
