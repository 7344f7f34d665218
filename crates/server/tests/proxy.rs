//! `X-Forwarded-For` behind a trusted reverse proxy: believed for rate limits and the audit
//! trail only when the TCP peer (here 127.0.0.1) is listed in `trusted_proxies`.

mod common;

use common::*;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use server::Config;

/// A cookie-keeping client whose every request claims to be forwarded for `forwarded_for`.
fn forwarded_client(forwarded_for: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(forwarded_for).expect("header"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .expect("client")
}

/// The IP the audit trail records for a registration and login sent with `forwarded_for`.
async fn audited_ip(trusted: &[&str], forwarded_for: &str) -> String {
    let trusted: Vec<_> = trusted.iter().map(|c| c.parse().expect("cidr")).collect();
    let s = start(|c| c.trusted_proxies = trusted).await;
    let c = forwarded_client(forwarded_for);
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    assert_eq!(
        face_check(&s, &c, &["obama_2"]).await.status(),
        StatusCode::OK
    );
    let events = get_json(&s, &c, "/api/me/security-events").await;
    let ips: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["ip"].as_str())
        .collect();
    assert!(ips.len() >= 3, "{events}");
    assert!(ips.iter().all(|ip| *ip == ips[0]), "{ips:?}");
    ips[0].to_owned()
}

#[tokio::test]
async fn forwarded_for_is_ignored_by_default() {
    require_fixtures();
    assert_eq!(audited_ip(&[], "203.0.113.7").await, "127.0.0.1");
}

#[tokio::test]
async fn forwarded_for_is_ignored_when_the_peer_is_not_a_trusted_proxy() {
    require_fixtures();
    assert_eq!(
        audited_ip(&["10.0.0.0/8"], "203.0.113.7").await,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn a_trusted_proxy_s_forwarded_for_names_the_client_in_the_audit_trail() {
    require_fixtures();
    // The leftmost entry is the client's own forgery; the proxy appended the real address.
    assert_eq!(
        audited_ip(&["127.0.0.1/32"], "198.51.100.1, 203.0.113.7").await,
        "203.0.113.7"
    );
}

/// Two logins from `first`, then whether a login from `second` is refused by the per-IP limit.
async fn second_address_is_rate_limited(tweak: impl FnOnce(&mut Config)) -> bool {
    let s = start(|c| {
        c.rate_limit.login_burst = 2;
        c.rate_limit.login_per_sec = 0.001;
        tweak(c);
    })
    .await;
    let first = forwarded_client("203.0.113.7");
    for _ in 0..2 {
        let r = login_as(&s, &first, "nobody", "some password here").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login_as(&s, &first, "nobody", "some password here").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the limit holds");
    let second = forwarded_client("203.0.113.8");
    let r = login_as(&s, &second, "nobody", "some password here").await;
    r.status() == StatusCode::TOO_MANY_REQUESTS
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_escape_the_per_ip_limit() {
    require_fixtures();
    assert!(second_address_is_rate_limited(|_| {}).await);
    assert!(
        second_address_is_rate_limited(|c| {
            c.trusted_proxies = vec!["10.0.0.0/8".parse().expect("cidr")];
        })
        .await
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_rate_limit() {
    require_fixtures();
    assert!(
        !second_address_is_rate_limited(|c| {
            c.trusted_proxies = vec!["127.0.0.1".parse().expect("cidr")];
        })
        .await
    );
}
