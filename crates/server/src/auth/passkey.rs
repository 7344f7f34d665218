//! Passkeys (WebAuthn), through webauthn-rs: add, list, rename and remove them; sign in with one
//! in place of the password (a discoverable credential: no login typed, so nothing tells which
//! accounts exist) or as the second step after the password.
//!
//! Each ceremony's state (its challenge) waits in the database between start and finish, found
//! by the hash of a random id the client holds, for at most [`CEREMONY_TTL_MS`].

use rand::RngCore;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::factors::{complete_sign_in, open_first_step, require_second_step};
use super::policy::Factor;
use super::session::{AnySession, FullSession, SessionHash, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::storage::audit::AuditKind;
use crate::storage::factors::{CeremonyPurpose, PasskeyRow};

const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
pub const MAX_NAME_CHARS: usize = 64;
/// Passkeys per account: enough for every device a person owns, a bound on the rows.
pub const MAX_PASSKEYS: i64 = 20;

/// The relying party this server is, from `public_url` (its host is the RP id, its origin the
/// only one accepted). Without a public URL: `localhost` on any port, for a server tried on
/// its own machine. `None` when the host is an IP address, which browsers refuse as an RP id.
pub fn relying_party(config: &Config) -> Option<Webauthn> {
    let (origin, any_port) = match &config.public_url {
        Some(url) => (Url::parse(url).ok()?, false),
        None => (Url::parse("http://localhost").ok()?, true),
    };
    let rp_id = origin.host_str()?.to_owned();
    if rp_id
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        return None;
    }
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name("facegate")
        .allow_any_port(any_port)
        .build()
        .ok()
}

fn webauthn<'a>(state: &Auth<'a>) -> ApiResult<&'a Webauthn> {
    state.webauthn.ok_or(ApiError::PasskeysUnavailable)
}

fn internal(context: &'static str) -> impl FnOnce(serde_json::Error) -> ApiError {
    move |e| ApiError::Internal(anyhow::Error::new(e).context(context))
}

fn ceremony_hash(id: &str) -> String {
    hex::encode(Sha256::digest(format!("webauthn-ceremony:{id}").as_bytes()))
}

/// Keeps `ceremony_state` and returns the id the client must present at the finish.
async fn store_ceremony(
    state: &Auth<'_>,
    purpose: CeremonyPurpose,
    user_id: Option<i64>,
    ceremony_state: &impl serde::Serialize,
) -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = hex::encode(bytes);
    let json = serde_json::to_string(ceremony_state).map_err(internal("ceremony state"))?;
    state
        .db
        .insert_ceremony(
            &ceremony_hash(&id),
            purpose,
            user_id,
            &json,
            now_ms() + CEREMONY_TTL_MS,
        )
        .await?;
    Ok(id)
}

/// The ceremony's state, once: 400 `challenge_invalid` when unknown, used, expired, of another
/// purpose or (`user_id` given) of another account.
async fn take_ceremony<T: serde::de::DeserializeOwned>(
    state: &Auth<'_>,
    id: &str,
    purpose: CeremonyPurpose,
    user_id: Option<i64>,
) -> ApiResult<T> {
    let (owner, json) = state
        .db
        .take_ceremony(&ceremony_hash(id), purpose, now_ms())
        .await?
        .ok_or(ApiError::ChallengeInvalid)?;
    if user_id.is_some() && owner != user_id {
        return Err(ApiError::ChallengeInvalid);
    }
    serde_json::from_str(&json).map_err(internal("ceremony state"))
}

fn parse_passkey(row: &PasskeyRow) -> ApiResult<Passkey> {
    serde_json::from_str(&row.credential).map_err(internal("stored passkey"))
}

/// A passkey as its owner sees it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&PasskeyRow> for PasskeyInfo {
    fn from(r: &PasskeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A passkey name: trimmed, 1–64 characters, no control or formatting characters.
pub fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(|c| c.is_control() || is_invisible(c));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::Validation(format!(
            "name must be 1-{MAX_NAME_CHARS} visible characters"
        )))
    }
}

/// Bidirectional overrides and zero-width characters, which let a name pose as another.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

pub async fn list(state: &Auth<'_>, user_id: i64) -> ApiResult<Vec<PasskeyInfo>> {
    Ok(state
        .db
        .passkeys(user_id)
        .await?
        .iter()
        .map(PasskeyInfo::from)
        .collect())
}

/// Starts adding a passkey to the account: the options for `navigator.credentials.create`.
pub async fn register_start(
    state: &Auth<'_>,
    session: &FullSession,
) -> ApiResult<(String, serde_json::Value)> {
    let webauthn = webauthn(state)?;
    let user = state
        .db
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let existing = state.db.passkeys(session.user_id).await?;
    if i64::try_from(existing.len()).unwrap_or(i64::MAX) >= MAX_PASSKEYS {
        return Err(ApiError::Validation(format!(
            "an account holds at most {MAX_PASSKEYS} passkeys; remove one first"
        )));
    }
    let mut fresh = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    let handle = state
        .db
        .webauthn_handle(session.user_id, &Uuid::from_bytes(fresh).to_string())
        .await?;
    let handle = Uuid::parse_str(&handle)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("webauthn handle")))?;
    let exclude = existing
        .iter()
        .map(|r| parse_passkey(r).map(|p| p.cred_id().clone()))
        .collect::<ApiResult<Vec<_>>>()?;
    let (options, registration) = webauthn
        .start_passkey_registration(handle, &user.username, &user.full_name, Some(exclude))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("webauthn registration start: {e}")))?;
    // A discoverable (resident) credential, so that the passkey can also replace the password
    // without a login being typed first. webauthn-rs asks for none; the request is ours to make
    // (the authenticator's choice is not part of what the finish verifies).
    let mut options = serde_json::to_value(options).map_err(internal("creation options"))?;
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    let ceremony = store_ceremony(
        state,
        CeremonyPurpose::Register,
        Some(session.user_id),
        &registration,
    )
    .await?;
    Ok((ceremony, options))
}

/// Finishes adding a passkey; `name` is the user's label for it.
pub async fn register_finish(
    state: &Auth<'_>,
    session: &FullSession,
    ceremony: &str,
    name: &str,
    credential: &RegisterPublicKeyCredential,
    client: &Client,
) -> ApiResult<PasskeyInfo> {
    let name = check_name(name)?;
    let webauthn = webauthn(state)?;
    let registration: PasskeyRegistration = take_ceremony(
        state,
        ceremony,
        CeremonyPurpose::Register,
        Some(session.user_id),
    )
    .await?;
    let passkey = webauthn
        .finish_passkey_registration(credential, &registration)
        .map_err(|e| {
            tracing::info!(user_id = session.user_id, error = %e, "passkey registration refused");
            ApiError::PasskeyInvalid
        })?;
    let credential_id = hex::encode(passkey.cred_id().as_ref());
    let json = serde_json::to_string(&passkey).map_err(internal("passkey"))?;
    let now = now_ms();
    let id = state
        .db
        .insert_passkey(session.user_id, &credential_id, &name, &json, now)
        .await?
        .ok_or(ApiError::Conflict { field: "passkey" })?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::FactorAdded,
        client,
        Some(format!("passkey \"{name}\"")),
    )
    .await?;
    Ok(PasskeyInfo {
        id,
        name,
        created_at: now,
        last_used_at: None,
    })
}

pub async fn rename(state: &Auth<'_>, session: &FullSession, id: i64, name: &str) -> ApiResult<()> {
    let name = check_name(name)?;
    if state.db.rename_passkey(session.user_id, id, &name).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Removes a passkey; needs a recent sign-in.
pub async fn remove(
    state: &Auth<'_>,
    session: &FullSession,
    id: i64,
    client: &Client,
) -> ApiResult<()> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    if !state.db.delete_passkey(session.user_id, id).await? {
        return Err(ApiError::NotFound);
    }
    audit(
        state,
        Some(session.user_id),
        AuditKind::FactorRemoved,
        client,
        Some("passkey".into()),
    )
    .await
}

async fn rate_limit(state: &Auth<'_>, client: &Client) -> ApiResult<()> {
    state
        .limits
        .login
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })
}

/// Starts a sign-in with a passkey in place of the password.
pub async fn sign_in_start(
    state: &Auth<'_>,
    client: &Client,
) -> ApiResult<(String, RequestChallengeResponse)> {
    rate_limit(state, client).await?;
    let (options, authentication) = webauthn(state)?
        .start_discoverable_authentication()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("webauthn sign-in start: {e}")))?;
    let ceremony = store_ceremony(state, CeremonyPurpose::SignIn, None, &authentication).await?;
    Ok((ceremony, options))
}

/// Saves the passkey's new signature counter after a successful assertion.
async fn record_use(
    state: &Auth<'_>,
    row: &PasskeyRow,
    result: &AuthenticationResult,
) -> ApiResult<()> {
    let mut passkey = parse_passkey(row)?;
    let changed = passkey.update_credential(result).unwrap_or(false);
    let json = if changed {
        Some(serde_json::to_string(&passkey).map_err(internal("passkey"))?)
    } else {
        None
    };
    state
        .db
        .passkey_used(row.id, json.as_deref(), now_ms())
        .await?;
    Ok(())
}

/// Finishes a passkey sign-in: a session at level `password` whose first factor is the passkey.
pub async fn sign_in_finish(
    state: &Auth<'_>,
    ceremony: &str,
    credential: &PublicKeyCredential,
    previous: Option<SessionHash>,
    client: &Client,
) -> ApiResult<SessionToken> {
    let webauthn = webauthn(state)?;
    let authentication: DiscoverableAuthentication =
        take_ceremony(state, ceremony, CeremonyPurpose::SignIn, None).await?;
    let refused = || ApiError::PasskeyInvalid;
    let (handle, _) = webauthn
        .identify_discoverable_authentication(credential)
        .map_err(|_| refused())?;
    let user_id = state
        .db
        .user_by_webauthn_handle(&handle.to_string())
        .await?
        .ok_or_else(refused)?;
    let rows = state.db.passkeys(user_id).await?;
    let keys = rows
        .iter()
        .map(|r| parse_passkey(r).map(|p| DiscoverableKey::from(&p)))
        .collect::<ApiResult<Vec<_>>>()?;
    let result =
        match webauthn.finish_discoverable_authentication(credential, authentication, &keys) {
            Ok(result) => result,
            Err(e) => {
                tracing::info!(user_id, error = %e, "passkey sign-in refused");
                audit(
                    state,
                    Some(user_id),
                    AuditKind::LoginFailed,
                    client,
                    Some("passkey not accepted".into()),
                )
                .await?;
                return Err(refused());
            }
        };
    let row = rows
        .iter()
        .find(|r| parse_passkey(r).is_ok_and(|p| p.cred_id() == result.cred_id()))
        .ok_or_else(refused)?;
    record_use(state, row, &result).await?;
    let token = open_first_step(state, user_id, Factor::Passkey, previous, client).await?;
    audit(
        state,
        Some(user_id),
        AuditKind::LoginSucceeded,
        client,
        Some(format!(
            "passkey \"{}\" accepted, second step pending",
            row.name
        )),
    )
    .await?;
    Ok(token)
}

/// Starts a passkey as the second step: the options name the account's passkeys.
pub async fn second_step_start(
    state: &Auth<'_>,
    session: &AnySession,
    client: &Client,
) -> ApiResult<(String, RequestChallengeResponse)> {
    rate_limit(state, client).await?;
    require_second_step(state, session, Factor::Passkey).await?;
    let passkeys = state
        .db
        .passkeys(session.user_id)
        .await?
        .iter()
        .map(parse_passkey)
        .collect::<ApiResult<Vec<_>>>()?;
    let (options, authentication) = webauthn(state)?
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("webauthn second step start: {e}")))?;
    let ceremony = store_ceremony(
        state,
        CeremonyPurpose::SecondFactor,
        Some(session.user_id),
        &authentication,
    )
    .await?;
    Ok((ceremony, options))
}

/// Finishes the passkey second step: the session becomes `full`.
pub async fn second_step_finish(
    state: &Auth<'_>,
    session: &AnySession,
    ceremony: &str,
    credential: &PublicKeyCredential,
    client: &Client,
) -> ApiResult<SessionToken> {
    let webauthn = webauthn(state)?;
    let authentication: PasskeyAuthentication = take_ceremony(
        state,
        ceremony,
        CeremonyPurpose::SecondFactor,
        Some(session.user_id),
    )
    .await?;
    let result = match webauthn.finish_passkey_authentication(credential, &authentication) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(user_id = session.user_id, error = %e, "passkey second step refused");
            audit(
                state,
                Some(session.user_id),
                AuditKind::SecondFactorFailed,
                client,
                Some("passkey".into()),
            )
            .await?;
            return Err(ApiError::PasskeyInvalid);
        }
    };
    let rows = state.db.passkeys(session.user_id).await?;
    let row = rows
        .iter()
        .find(|r| parse_passkey(r).is_ok_and(|p| p.cred_id() == result.cred_id()))
        .ok_or(ApiError::PasskeyInvalid)?;
    record_use(state, row, &result).await?;
    let token = complete_sign_in(state, session, Factor::Passkey, client, now_ms()).await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::SecondFactorSucceeded,
        client,
        Some(format!("passkey \"{}\"", row.name)),
    )
    .await?;
    Ok(token)
}
