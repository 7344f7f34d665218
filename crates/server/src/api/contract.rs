//! The answers every endpoint shares, added to `/api/openapi.json` in one place so that no
//! handler's annotation can forget them (tools/api-contract fuzzes the server against the
//! document and fails on any status it does not list):
//!
//! - an operation with `security(("session" = [...]))` answers 401 `unauthenticated`, and with
//!   the scope `full` also 403 `face_required` (a session still at the password step);
//! - a state-changing method answers 403 `cross_origin` (the CSRF guard, `auth::csrf`);
//! - an operation with a request body answers 400 `invalid_request` (malformed, wrong content
//!   type) and 413 `payload_too_large`;
//! - every error answer has the JSON envelope [`ErrorBody`], whose `code` is one of
//!   [`error_codes`].
//!
//! Handlers still list the answers of their own rules, with descriptions saying when.

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, Schema};
use utoipa::Modify;

use crate::auth::session::COOKIE_NAME;
use crate::error::ErrorBody;

/// The name of the session security scheme in `security(...)` annotations.
pub const SESSION: &str = "session";
/// The scope of an operation that needs a `full` session (password and second factor).
pub const FULL: &str = "full";

/// Every machine-readable error code the API answers with, sorted: the enum of
/// `ErrorDetail.code`, and the codes the web client must have a sentence for.
pub fn error_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = crate::error::ApiError::CODES
        .iter()
        .chain(crate::chat::domain::ChatError::CODES)
        .copied()
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// Marks every operation of a document as needing a full session (the chat's routes).
pub struct FullSessionEverywhere;

impl Modify for FullSessionEverywhere {
    fn modify(&self, doc: &mut OpenApi) {
        let requirement = utoipa::openapi::security::SecurityRequirement::new(SESSION, [FULL]);
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                op.1.security = Some(vec![requirement.clone()]);
            }
        }
    }
}

/// Adds the shared answers, the session scheme and the error code enum to `doc`.
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            COOKIE_NAME,
            "The session cookie set by the sign-in (`__Host-facegate_session` over HTTPS)",
        ))),
    );
    if let Some(RefOr::T(Schema::Object(detail))) = components.schemas.get_mut("ErrorDetail") {
        if let Some(RefOr::T(Schema::Object(code))) = detail.properties.get_mut("code") {
            code.enum_values = Some(error_codes().into_iter().map(Into::into).collect());
        }
    }
    for item in doc.paths.paths.values_mut() {
        for (method, op) in operations(item) {
            add_shared_answers(method, op);
        }
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, &mut item.get),
        (HttpMethod::Put, &mut item.put),
        (HttpMethod::Post, &mut item.post),
        (HttpMethod::Delete, &mut item.delete),
        (HttpMethod::Patch, &mut item.patch),
        (HttpMethod::Head, &mut item.head),
        (HttpMethod::Options, &mut item.options),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

fn add_shared_answers(method: HttpMethod, op: &mut Operation) {
    if let Some(scopes) = required_session(op) {
        answer(
            op,
            401,
            "unauthenticated",
            "not signed in, or the session expired",
        );
        if scopes.iter().any(|s| s == FULL) {
            answer(
                op,
                403,
                "face_required",
                "the sign-in's second step is not done yet",
            );
        }
    }
    if !matches!(
        method,
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Options
    ) {
        answer(
            op,
            403,
            "cross_origin",
            "a browser request from another site (CSRF guard)",
        );
    }
    if op.request_body.is_some() {
        answer(
            op,
            400,
            "invalid_request",
            "a malformed body, a field out of its limits, or another content type",
        );
        answer(op, 413, "payload_too_large", "the body is over the limit");
    }
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response {
            if status.starts_with(['4', '5']) && response.content.is_empty() {
                set_error_body(response);
            }
        }
    }
}

/// The scopes of the session the operation requires, or `None` when it needs none (no
/// `security`, or an empty alternative: the session is optional).
fn required_session(op: &Operation) -> Option<Vec<String>> {
    let requirements = op.security.as_ref()?;
    let mut scopes = None;
    for requirement in requirements {
        // The requirement's fields are private; its JSON form is the documented one.
        let value = serde_json::to_value(requirement).ok()?;
        let map = value.as_object()?;
        if map.is_empty() {
            return None;
        }
        if let Some(list) = map.get(SESSION).and_then(|v| v.as_array()) {
            scopes = Some(
                list.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect(),
            );
        }
    }
    scopes
}

/// Lists `code` under `status`: a new answer, or one more case of an existing one.
fn answer(op: &mut Operation, status: u16, code: &str, when: &str) {
    let key = status.to_string();
    match op.responses.responses.get_mut(&key) {
        Some(RefOr::T(existing)) => {
            if !existing.description.contains(code) {
                existing.description = if existing.description.is_empty() {
                    format!("{code}: {when}")
                } else {
                    format!("{}; {code}: {when}", existing.description)
                };
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut response = Response::new(format!("{code}: {when}"));
            set_error_body(&mut response);
            op.responses.responses.insert(key, RefOr::T(response));
        }
    }
}

fn set_error_body(response: &mut Response) {
    use utoipa::ToSchema;
    let schema = Ref::from_schema_name(ErrorBody::name());
    response.content.insert(
        "application/json".into(),
        ContentBuilder::new().schema(Some(schema)).build(),
    );
}
