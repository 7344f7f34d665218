//! Account flows: registration, login, logout, re-enrolment and deletion.

use axum::body::Bytes;

use super::factors::open_first_step;
use super::lockout::Counters;
use super::password::{self, Password};
use super::policy::Factor;
use super::session::{AnySession, FullSession, Level, SessionHash, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult};
use crate::storage::audit::AuditKind;
use crate::storage::users::{login_key, InsertUserError, NewUser, User};

/// Most face images accepted at enrolment.
pub const MAX_ENROL_IMAGES: usize = 3;
const MIN_USERNAME: usize = 3;
const MAX_USERNAME: usize = 32;
const MAX_EMAIL: usize = 254;
const MAX_FULL_NAME: usize = 100;

/// Where an enrolment's face comes from.
pub enum FaceSource {
    /// 1-3 photos, each with exactly one face (API clients).
    Images(Vec<Bytes>),
    /// The token of a passed live enrolment (`GET /api/face/live?purpose=enrol`).
    LiveEnrolment(String),
}

impl FaceSource {
    /// The `face` files or the `enrolment` field of a form; both or neither is refused.
    pub fn from_parts(faces: Vec<Bytes>, enrolment: Option<String>) -> ApiResult<Self> {
        match (faces.is_empty(), enrolment) {
            (true, Some(token)) => Ok(Self::LiveEnrolment(token)),
            (false, None) => Ok(Self::Images(faces)),
            (false, Some(_)) => Err(ApiError::Validation(
                "send either `face` images or an `enrolment`, not both".into(),
            )),
            (true, None) => Err(ApiError::Validation(format!(
                "send 1-{MAX_ENROL_IMAGES} face images, or the `enrolment` of a live capture"
            ))),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Images(images) => format!("{} face image(s) enrolled", images.len()),
            Self::LiveEnrolment(_) => "face enrolled by a live capture".into(),
        }
    }
}

/// The fields of a registration. `Debug` shows neither the password nor the images.
pub struct Registration {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password: Password,
    pub consent: bool,
    pub face: FaceSource,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("consent", &self.consent)
            .field("face", &self.face.describe())
            .finish_non_exhaustive()
    }
}

fn check_fields(r: &Registration) -> ApiResult<()> {
    check_profile(&r.username, &r.email, &r.full_name)?;
    if !r.consent {
        return Err(ApiError::ConsentRequired);
    }
    if let FaceSource::Images(images) = &r.face {
        check_face_count(images.len())?;
    }
    password::check_policy(&r.password)
}

/// The registration rules for the username, email and full name (already trimmed, the email
/// lower-cased); also applied to accounts imported by `facegate admin import-users`.
pub(crate) fn check_profile(username: &str, email: &str, full_name: &str) -> ApiResult<()> {
    let u = username;
    if u.chars().count() < MIN_USERNAME
        || u.chars().count() > MAX_USERNAME
        || !u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ApiError::Validation(format!(
            "username must be {MIN_USERNAME}-{MAX_USERNAME} characters of ASCII letters (a-z, A-Z), digits, '_', '-' or '.'"
        )));
    }
    let e = email;
    check_email(e)?;
    if full_name.trim().is_empty() || full_name.chars().count() > MAX_FULL_NAME {
        return Err(ApiError::Validation(format!(
            "full_name must be 1-{MAX_FULL_NAME} characters"
        )));
    }
    // Control characters (newlines, terminal escapes) in a name end up in other people's chat
    // lists and in operators' terminals (`facegate admin users`); bidirectional and invisible
    // ones (U+202E, U+200B) let a name show as another one.
    let hidden = crate::text::is_hidden_in_name;
    if full_name.chars().any(hidden) || e.chars().any(hidden) {
        return Err(ApiError::Validation(
            "full_name and email must not contain control, invisible or text-direction characters (such as U+202E or U+200B)".into(),
        ));
    }
    Ok(())
}

fn check_email(e: &str) -> ApiResult<()> {
    let valid_email = e.len() <= MAX_EMAIL
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid_email {
        return Err(ApiError::Validation("email is not a valid address".into()));
    }
    Ok(())
}

fn check_face_count(n: usize) -> ApiResult<()> {
    if n == 0 || n > MAX_ENROL_IMAGES {
        return Err(ApiError::Validation(format!(
            "send 1-{MAX_ENROL_IMAGES} face images"
        )));
    }
    Ok(())
}

async fn hash_password(
    state: &Auth<'_>,
    password: Password,
) -> ApiResult<password::PasswordHashString> {
    state
        .pool
        .run(move || password::hash(&password))
        .await
        .map_err(|_| ApiError::Busy)
}

async fn verify_password(
    state: &Auth<'_>,
    password: Password,
    stored: Option<password::PasswordHashString>,
) -> ApiResult<bool> {
    state
        .pool
        .run(move || match stored {
            Some(h) => password::verify(&password, &h),
            None => {
                password::verify_dummy(&password);
                false
            }
        })
        .await
        .map_err(|_| ApiError::Busy)
}

/// Creates the account and enrols its face. Images are checked before the password is hashed.
pub async fn register(state: &Auth<'_>, mut r: Registration, client: &Client) -> ApiResult<User> {
    state
        .limits
        .register
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    r.username = r.username.trim().to_owned();
    r.email = r.email.trim().to_lowercase();
    r.full_name = r.full_name.trim().to_owned();
    check_fields(&r)?;
    // Described before the images are handed to the engine (which takes them).
    let enrolled = r.face.describe();
    let descriptors = enrolment_descriptors(state, &mut r.face, None).await?;
    let password_hash = hash_password(state, r.password.clone()).await?;
    let now = now_ms();
    let user = state
        .db
        .insert_user(&NewUser {
            username: r.username,
            email: r.email,
            full_name: r.full_name,
            password_hash,
            consent_at: now,
            created_at: now,
        })
        .await
        .map_err(|e| match e {
            InsertUserError::Taken(field) => ApiError::Conflict { field },
            InsertUserError::Db(e) => e.into(),
        })?;
    let sealed: Vec<_> = descriptors
        .iter()
        .map(|d| state.cipher.seal(user.id, d))
        .collect();
    state.db.replace_templates(user.id, &sealed, now).await?;
    used_enrolment(state, &r.face, None).await?;
    audit(
        state,
        Some(user.id),
        AuditKind::Registered,
        client,
        Some(enrolled),
    )
    .await?;
    super::mail::send_verification(state, user.id).await?;
    tracing::info!(
        user_id = user.id,
        templates = sealed.len(),
        "account registered"
    );
    Ok(user)
}

/// The descriptors an enrolment brings: computed from its images (which must show one person),
/// or those of a live enrolment made for `user_id` (None: a registration). A live enrolment is
/// only read here; [`used_enrolment`] consumes it once the account holds it, so a refused
/// registration (a taken username) does not cost the user a new capture.
async fn enrolment_descriptors(
    state: &Auth<'_>,
    source: &mut FaceSource,
    user_id: Option<i64>,
) -> ApiResult<Vec<face::Descriptor>> {
    match source {
        FaceSource::Images(images) => {
            let descriptors = state.face.enrol(std::mem::take(images)).await?;
            crate::faces::check_one_person(&descriptors, state.config.face.match_threshold)?;
            Ok(descriptors)
        }
        FaceSource::LiveEnrolment(token) => {
            super::live::peek_enrolment(state, token, user_id).await
        }
    }
}

async fn used_enrolment(
    state: &Auth<'_>,
    source: &FaceSource,
    user_id: Option<i64>,
) -> ApiResult<()> {
    if let FaceSource::LiveEnrolment(token) = source {
        super::live::forget_enrolment(state, token, user_id).await?;
    }
    Ok(())
}

/// Checks the password and opens a session at level `password`, destroying the session the
/// request came with (`previous`), if any. Unknown login and wrong password give the same error
/// after the same argon2 work.
pub async fn login(
    state: &Auth<'_>,
    login: &str,
    password: Password,
    previous: Option<SessionHash>,
    client: &Client,
) -> ApiResult<SessionToken> {
    state
        .limits
        .login
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    if login.len() > MAX_EMAIL || password.expose().len() > 4 * password::MAX_CHARS {
        return Err(ApiError::InvalidCredentials);
    }
    let now = now_ms();
    let Some((user, stored)) = state.db.find_login(login).await? else {
        // Counted and throttled like a wrong password: a lockout only real accounts could
        // reach would tell which logins exist.
        let pseudonym = state.login_pseudonyms.of(&login_key(login));
        admit_password_attempt(state, Attempted::UnknownLogin(&pseudonym), client, now).await?;
        verify_password(state, password, None).await?;
        audit(
            state,
            None,
            AuditKind::LoginFailed,
            client,
            Some("unknown account".into()),
        )
        .await?;
        return Err(ApiError::InvalidCredentials);
    };
    admit_password_attempt(state, Attempted::Account(user.id), client, now).await?;
    let rehash = password::needs_rehash(&stored).then(|| password.clone());
    if !verify_password(state, password, Some(stored)).await? {
        audit(
            state,
            Some(user.id),
            AuditKind::LoginFailed,
            client,
            Some("wrong password".into()),
        )
        .await?;
        tracing::info!(user_id = user.id, "login failed: wrong password");
        return Err(ApiError::InvalidCredentials);
    }
    state
        .db
        .update_counters(user.id, |c| c.password_succeeded())
        .await?;
    if let Some(password) = rehash {
        upgrade_password_hash(state, user.id, password).await?;
    }
    let token = open_first_step(state, user.id, Factor::Password, previous, client).await?;
    audit(
        state,
        Some(user.id),
        AuditKind::LoginSucceeded,
        client,
        Some("password accepted, second step pending".into()),
    )
    .await?;
    Ok(token)
}

/// Replaces an imported (bcrypt) hash by argon2id once the password it holds is known, so an
/// imported account keeps the weaker hash only until its first sign-in.
async fn upgrade_password_hash(
    state: &Auth<'_>,
    user_id: i64,
    password: Password,
) -> ApiResult<()> {
    let argon2id = hash_password(state, password).await?;
    state.db.set_password_hash(user_id, &argon2id).await?;
    tracing::info!(
        user_id,
        "imported bcrypt password hash replaced by argon2id"
    );
    Ok(())
}

/// Whose password attempt is counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Attempted<'a> {
    Account(i64),
    /// A login that matches no account, by its pseudonym.
    UnknownLogin(&'a str),
}

/// Applies the password gate of `who` and, when open, counts the attempt as a failure up front
/// (a correct password undoes it); a refusal is audited.
pub(crate) async fn admit_password_attempt(
    state: &Auth<'_>,
    who: Attempted<'_>,
    client: &Client,
    now: i64,
) -> ApiResult<()> {
    let rules = state.config.lockout.clone();
    let decide = |c: &mut Counters| {
        let gate = c.password_gate(&rules, now);
        if gate.is_ok() {
            c.record_password_attempt(now);
        }
        gate
    };
    let ((_, gate), user_id) = match who {
        Attempted::Account(id) => (state.db.update_counters(id, decide).await?, Some(id)),
        Attempted::UnknownLogin(key) => (
            state.db.update_unknown_login_counters(key, decide).await?,
            None,
        ),
    };
    if let Err(wait) = gate {
        let detail = format!("locked for {} s", wait.as_secs().max(1));
        audit(
            state,
            user_id,
            AuditKind::PasswordLockedOut,
            client,
            Some(detail),
        )
        .await?;
        return Err(ApiError::LockedOut { retry_after: wait });
    }
    Ok(())
}

/// Destroys the session server-side.
pub async fn logout(state: &Auth<'_>, session: &AnySession, client: &Client) -> ApiResult<()> {
    state.db.delete_session(&session.id_hash).await?;
    // The session's chat sockets close now, not at their next periodic session check.
    state
        .chat
        .end_session(&crate::chat::SessionKey::new(session.id_hash.as_str()))
        .await;
    audit(
        state,
        Some(session.user_id),
        AuditKind::Logout,
        client,
        None,
    )
    .await
}

/// Re-checks the password of a full session (re-authentication before sensitive changes).
///
/// Goes through the same per-account gate as login: a stolen full session must not become an
/// unthrottled password oracle.
pub(crate) async fn reauthenticate(
    state: &Auth<'_>,
    user_id: i64,
    password: Password,
    client: &Client,
) -> ApiResult<()> {
    let stored = state
        .db
        .password_hash(user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    admit_password_attempt(state, Attempted::Account(user_id), client, now_ms()).await?;
    if !verify_password(state, password, Some(stored)).await? {
        audit(
            state,
            Some(user_id),
            AuditKind::LoginFailed,
            client,
            Some("wrong password at re-authentication".into()),
        )
        .await?;
        return Err(ApiError::InvalidCredentials);
    }
    state
        .db
        .update_counters(user_id, |c| c.password_succeeded())
        .await?;
    Ok(())
}

/// Replaces the face templates after re-checking the password; lifts a disabled face factor.
/// Needs a recent sign-in (password and face), else 403 `reauth_required`.
pub async fn reenrol(
    state: &Auth<'_>,
    session: &FullSession,
    password: Password,
    mut face: FaceSource,
    client: &Client,
) -> ApiResult<()> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    state
        .limits
        .face
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    if let FaceSource::Images(images) = &face {
        check_face_count(images.len())?;
    }
    reauthenticate(state, session.user_id, password, client).await?;
    let user = Some(session.user_id);
    let enrolled = face.describe();
    let descriptors = enrolment_descriptors(state, &mut face, user).await?;
    let sealed: Vec<_> = descriptors
        .iter()
        .map(|d| state.cipher.seal(session.user_id, d))
        .collect();
    state
        .db
        .replace_templates(session.user_id, &sealed, now_ms())
        .await?;
    used_enrolment(state, &face, user).await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::FaceReenrolled,
        client,
        Some(enrolled),
    )
    .await
}

/// Deletes the account after re-checking the password: templates, sessions, counters, events
/// and chat rows go with it (ON DELETE CASCADE). Needs a recent sign-in (password and face),
/// else 403 `reauth_required`.
pub async fn delete(
    state: &Auth<'_>,
    session: &FullSession,
    password: Password,
    client: &Client,
) -> ApiResult<()> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    reauthenticate(state, session.user_id, password, client).await?;
    let chat = crate::chat::service::Chat {
        db: state.db,
        hub: state.chat,
    };
    let departures = chat
        .departures(session.user_id)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    state.db.delete_user(session.user_id).await?;
    state.chat.end_user(session.user_id).await;
    // The other members' open chats drop the deleted user's direct channels and owned groups.
    chat.announce_departures(departures).await;
    tracing::info!(user_id = session.user_id, "account deleted");
    Ok(())
}

/// Ends the account's other sessions (and their chat sockets at once); returns how many.
pub async fn end_other_sessions(state: &Auth<'_>, session: &FullSession) -> ApiResult<usize> {
    let ended = state
        .db
        .delete_other_sessions(session.user_id, &session.id_hash)
        .await?;
    for hash in &ended {
        state
            .chat
            .end_session(&crate::chat::SessionKey::new(hash.as_str()))
            .await;
    }
    Ok(ended.len())
}

/// Changes the password; the account's other sessions are signed out. Needs a recent sign-in
/// and the current password, except in a session begun with a recovery code or a reset link:
/// that is the way back in for a user who lost the password.
pub async fn change_password(
    state: &Auth<'_>,
    session: &FullSession,
    current: Option<Password>,
    new: Password,
    client: &Client,
) -> ApiResult<()> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    password::check_policy(&new)?;
    if !matches!(
        session.first_factor,
        Factor::RecoveryCode | Factor::EmailLink
    ) {
        let current = current.ok_or_else(|| {
            ApiError::Validation("current_password is required to change the password".into())
        })?;
        reauthenticate(state, session.user_id, current, client).await?;
    }
    let hash = hash_password(state, new).await?;
    state.db.set_password_hash(session.user_id, &hash).await?;
    let ended = end_other_sessions(state, session).await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::PasswordChanged,
        client,
        Some(format!("{ended} other sessions signed out")),
    )
    .await
}

/// Changes the email after re-checking the password (recent sign-in needed); the account's
/// other sessions are signed out.
pub async fn change_email(
    state: &Auth<'_>,
    session: &FullSession,
    password: Password,
    email: &str,
    client: &Client,
) -> ApiResult<User> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    let email = email.trim().to_lowercase();
    check_email(&email)?;
    reauthenticate(state, session.user_id, password, client).await?;
    let old = state.db.email_of(session.user_id).await?.map(|(e, _)| e);
    state
        .db
        .set_email(session.user_id, &email)
        .await
        .map_err(|e| match e {
            InsertUserError::Taken(field) => ApiError::Conflict { field },
            InsertUserError::Db(e) => e.into(),
        })?;
    let ended = end_other_sessions(state, session).await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::EmailChanged,
        client,
        Some(format!("{ended} other sessions signed out")),
    )
    .await?;
    // The old address hears of the change too: it is the one an intruder would want silenced.
    if old.as_deref() != Some(email.as_str()) {
        super::mail::notify(
            state,
            session.user_id,
            AuditKind::EmailChanged,
            Some("your address was replaced"),
            client,
            old,
        )
        .await?;
    }
    super::mail::send_verification(state, session.user_id).await?;
    state
        .db
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// A session as its owner sees it in the settings.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Names the session for `DELETE /api/me/sessions/{id}`; derived one-way from the stored
    /// hash, so it is no session id and opens nothing.
    pub id: String,
    /// The session this request came with.
    pub current: bool,
    pub level: Level,
    pub first_factor: Factor,
    pub second_factor: Option<Factor>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn session_handle(hash: &SessionHash) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(format!("session-handle:{}", hash.as_str()).as_bytes())[..16])
}

/// The account's sessions, most recently used first.
pub async fn sessions(state: &Auth<'_>, session: &FullSession) -> ApiResult<Vec<SessionInfo>> {
    Ok(state
        .db
        .sessions_of(session.user_id)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            id: session_handle(&s.row.id_hash),
            current: s.row.id_hash == session.id_hash,
            level: s.row.level,
            first_factor: s.row.first_factor,
            second_factor: s.row.second_factor,
            created_at: s.row.created_at,
            last_seen_at: s.row.last_seen_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect())
}

/// Ends one of the account's sessions (named as in [`sessions`]) or, with `None`, all but the
/// current one; their chat sockets close at once. Returns how many ended.
pub async fn end_sessions(
    state: &Auth<'_>,
    session: &FullSession,
    which: Option<&str>,
    client: &Client,
) -> ApiResult<usize> {
    let ended = match which {
        None => end_other_sessions(state, session).await?,
        Some(handle) => {
            let target = state
                .db
                .sessions_of(session.user_id)
                .await?
                .into_iter()
                .find(|s| session_handle(&s.row.id_hash) == handle)
                .ok_or(ApiError::NotFound)?;
            state.db.delete_session(&target.row.id_hash).await?;
            state
                .chat
                .end_session(&crate::chat::SessionKey::new(target.row.id_hash.as_str()))
                .await;
            1
        }
    };
    audit(
        state,
        Some(session.user_id),
        AuditKind::SessionsEnded,
        client,
        Some(format!("{ended} signed out")),
    )
    .await?;
    Ok(ended)
}

/// Completes a sign-in begun with a passkey by the password (counted and locked like a login).
pub async fn second_step_password(
    state: &Auth<'_>,
    session: &AnySession,
    password: Password,
    client: &Client,
) -> ApiResult<SessionToken> {
    super::factors::require_second_step(state, session, Factor::Password).await?;
    reauthenticate(state, session.user_id, password, client).await?;
    let token =
        super::factors::complete_sign_in(state, session, Factor::Password, client, now_ms())
            .await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::SecondFactorSucceeded,
        client,
        Some("password after a passkey".into()),
    )
    .await?;
    Ok(token)
}
