//! Cross-site request forgery defence for every state-changing request.
//!
//! A non-GET/HEAD/OPTIONS request is refused with 403 `cross_origin` when it carries a
//! `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` other than the server's
//! own (the public URL, or the `Host` it was reached on when none is configured). Requests with
//! neither header (curl, tests, other non-browser clients) pass: they cannot ride on a victim's
//! cookies. Applied to every request, cookie or not, so login CSRF is refused as well.

use axum::http::{header, HeaderMap, Method};

use crate::config::{normalise_origin, Config};

/// Whether the request may proceed (pure: headers and configuration in, decision out).
pub fn allowed(method: &Method, headers: &HeaderMap, config: &Config) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.to_str(), Ok("same-origin" | "none")) {
            return false;
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .ok()
            .and_then(normalise_origin)
            .is_some_and(|o| is_own_origin(&o, headers, config)),
    }
}

/// Whether `origin` (normalised) is this server's origin.
pub fn is_own_origin(origin: &str, headers: &HeaderMap, config: &Config) -> bool {
    if let Some(public) = &config.public_url {
        return origin == public;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// A WebSocket handshake must carry an `Origin` equal to the server's own origin (the same rule
/// as the CSRF check, but a missing `Origin` is refused too: browsers always send one here).
pub fn websocket_origin_allowed(headers: &HeaderMap, config: &Config) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalise_origin)
        .is_some_and(|origin| is_own_origin(&origin, headers, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cross_site_post_is_refused() {
        let c = Config::default();
        let h = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert!(!allowed(&Method::POST, &h, &c));
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(!allowed(&Method::POST, &h, &c));
    }

    #[test]
    fn same_origin_and_headerless_posts_pass() {
        let c = Config::default();
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(allowed(&Method::POST, &h, &c));
        assert!(allowed(&Method::POST, &headers(&[("host", "x")]), &c));
    }

    #[test]
    fn public_url_is_the_only_origin_when_set() {
        let c = Config {
            public_url: Some("https://chat.example.org".into()),
            ..Config::default()
        };
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(!allowed(&Method::DELETE, &h, &c));
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://chat.example.org"),
        ]);
        assert!(allowed(&Method::DELETE, &h, &c));
    }

    #[test]
    fn safe_methods_are_not_checked() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(allowed(&Method::GET, &h, &Config::default()));
    }

    fn socket_headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, axum::http::HeaderValue::from_static(host));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, axum::http::HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn socket_origin_must_equal_the_public_url_when_configured() {
        let config = Config {
            public_url: Some("https://chat.example.org".into()),
            ..Config::default()
        };
        assert!(websocket_origin_allowed(
            &socket_headers(Some("https://chat.example.org"), "x"),
            &config
        ));
        assert!(!websocket_origin_allowed(
            &socket_headers(Some("https://evil.example"), "x"),
            &config
        ));
        assert!(!websocket_origin_allowed(
            &socket_headers(Some("http://chat.example.org"), "x"),
            &config
        ));
    }

    #[test]
    fn socket_origin_must_match_the_host_and_be_present() {
        let config = Config::default();
        let host = "127.0.0.1:8080";
        assert!(websocket_origin_allowed(
            &socket_headers(Some("http://127.0.0.1:8080"), host),
            &config
        ));
        assert!(!websocket_origin_allowed(
            &socket_headers(Some("http://127.0.0.1:9999"), host),
            &config
        ));
        assert!(!websocket_origin_allowed(
            &socket_headers(Some("http://evil.example"), host),
            &config
        ));
        assert!(!websocket_origin_allowed(
            &socket_headers(Some("null"), host),
            &config
        ));
        assert!(!websocket_origin_allowed(
            &socket_headers(None, host),
            &config
        ));
    }
}
