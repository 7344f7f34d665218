//! The web UI: static HTML, CSS and ES modules from `crates/server/web/`, embedded in the binary.
//!
//! [`router`] answers every GET that no API route claimed: a known asset is served with its
//! content type, an `ETag` (revalidated with `Cache-Control: no-cache`, so a new binary never
//! serves stale scripts) and a strict Content-Security-Policy (no inline script or style); any
//! other path without a file extension gets `index.html`, and the page's router takes over
//! (`/chat/12` works on reload). Unknown `/api/...` paths get the API's JSON 404.

mod assets;

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use assets::{Asset, ASSETS};

/// Routes serving the web assets, merged by [`crate::serve::router`]. It is a fallback, so any
/// route defined elsewhere wins.
pub fn router() -> Router<AppState> {
    Router::new().fallback(fallback)
}

async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(
        &method,
        uri.path(),
        &headers,
        state.config.public_url.as_deref(),
    )
}

/// The response for `path`; a pure function of the request so it can be tested without a server.
fn serve(method: &Method, path: &str, headers: &HeaderMap, public_url: Option<&str>) -> Response {
    if path == "/api" || path.starts_with("/api/") {
        return api_not_found();
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let Some((index, asset)) = lookup(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = etag(index);
    let mut response = if if_none_match(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(asset.bytes));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(assets::content_type(asset.path)),
        );
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(h, public_url);
    response
}

/// The asset for a URL path; SPA paths (no file extension) map to `index.html`.
fn lookup(path: &str) -> Option<(usize, &'static Asset)> {
    let rel = path.trim_start_matches('/');
    if let Some(found) = assets::find(rel) {
        return Some(found);
    }
    let last = rel.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return None;
    }
    assets::find("index.html")
}

/// Strong ETags, computed once per asset from its bytes.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.bytes)[..12])))
            .collect()
    });
    tags.get(index).map(String::as_str).unwrap_or("\"\"")
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
}

/// The Content-Security-Policy: everything from our own origin, no inline code, no framing.
/// `connect-src` also names the WebSocket origin explicitly for browsers whose `'self'` does not
/// cover `ws:`/`wss:`.
fn content_security_policy(public_url: Option<&str>) -> String {
    let ws = public_url
        .map(|u| u.trim_end_matches('/'))
        .and_then(|u| {
            u.strip_prefix("https://")
                .map(|rest| format!(" wss://{rest}"))
                .or_else(|| {
                    u.strip_prefix("http://")
                        .map(|rest| format!(" ws://{rest}"))
                })
        })
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob: mediastream:; connect-src 'self'{ws}; font-src 'self'; \
         manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn security_headers(h: &mut HeaderMap, public_url: Option<&str>) {
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(public_url)) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=(), payment=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

fn api_not_found() -> Response {
    let body = serde_json::json!({
        "error": { "code": "not_found", "message": "There is no such API endpoint." }
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Response {
        serve(&Method::GET, path, &HeaderMap::new(), None)
    }

    fn header_of<'a>(r: &'a Response, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn root_serves_index_html_with_strict_csp() {
        let r = get("/");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header_of(&r, "content-type"), "text/html; charset=utf-8");
        let csp = header_of(&r, "content-security-policy");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header_of(&r, "x-content-type-options"), "nosniff");
    }

    #[test]
    fn scripts_are_served_as_javascript() {
        let r = get("/js/main.js");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header_of(&r, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header_of(&r, "cache-control"), "no-cache");
    }

    #[test]
    fn unknown_page_paths_fall_back_to_index_html() {
        for path in ["/chat", "/chat/42", "/settings", "/some/deep/link"] {
            let r = get(path);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(
                header_of(&r, "content-type").starts_with("text/html"),
                "{path}"
            );
        }
    }

    #[test]
    fn missing_files_and_api_paths_are_not_found() {
        assert_eq!(get("/js/nope.js").status(), StatusCode::NOT_FOUND);
        let r = get("/api/nope");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(header_of(&r, "content-type"), "application/json");
    }

    #[test]
    fn a_matching_etag_gives_not_modified() {
        let first = get("/app.css");
        let tag = header_of(&first, "etag").to_string();
        assert!(tag.starts_with('"') && tag.len() > 10, "{tag}");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&tag).expect("etag is ascii"),
        );
        let again = serve(&Method::GET, "/app.css", &headers, None);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn state_changing_methods_are_refused() {
        let r = serve(&Method::POST, "/chat", &HeaderMap::new(), None);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn csp_names_the_websocket_origin_of_an_https_public_url() {
        let csp = content_security_policy(Some("https://chat.example.org/"));
        assert!(
            csp.contains("connect-src 'self' wss://chat.example.org;"),
            "{csp}"
        );
    }
}
