//! The server's logs never hold a secret: the whole auth flow runs with every log level the
//! server emits switched on (as an operator's `RUST_LOG=debug`, and `trace` for the server's own
//! code), and the captured output is searched for the password, the session cookies, the
//! challenge nonces, the template key and the face descriptors. The decision events must be
//! there, so that the test fails when logging is off instead of passing on an empty log.
//!
//! Its own test binary: the capturing subscriber is the process-wide default.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use face::{Descriptor, ImageLimits};
use reqwest::StatusCode;
use server::config::FaceConfig;
use server::faces::pipeline;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Every log line written by any thread of this process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs the capturing subscriber: debug for every library the server uses, trace for the
/// server itself; the test's own HTTP client and its cookie jar are left out (their logs are
/// not the server's).
fn capture_logs() -> Captured {
    let captured = Captured::default();
    let filter = EnvFilter::new(
        "debug,server=trace,face=trace,reqwest=off,cookie_store=off,hyper_util::client=off",
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(captured.clone())
        .with_ansi(false)
        .init();
    captured
}

/// The log lines holding `needle`, for the failure message.
fn lines_with(log: &str, needle: &str) -> String {
    log.lines()
        .filter(|l| l.contains(needle))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The cookie's value without its name.
fn cookie_value(r: &reqwest::Response) -> String {
    let pair = set_cookie(r).expect("a session cookie");
    pair.split_once('=').expect("name=value").1.to_owned()
}

/// Standard base64, with padding; the unpadded and URL-safe spellings are derived from it.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every spelling of the key a careless log line could use.
fn key_spellings(key: &[u8]) -> Vec<String> {
    let b64 = base64(key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.clone(),
        hex.to_uppercase(),
        b64.trim_end_matches('=').to_owned(),
        b64.trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_"),
        format!("{:?}", &key[..8]).trim_end_matches(']').to_owned(),
        b64,
    ]
}

/// Spellings of a descriptor: each component in full (Display and Debug of an f32 agree), and
/// runs of three components rounded the way a vector dump might round them.
fn descriptor_spellings(d: &Descriptor) -> Vec<String> {
    let mut out: Vec<String> = d.0.iter().map(|v| format!("{v}")).collect();
    for w in d.0.windows(3) {
        out.push(format!("{:.4}, {:.4}, {:.4}", w[0], w[1], w[2]));
        out.push(format!("{:.3}, {:.3}, {:.3}", w[0], w[1], w[2]));
    }
    // Very short full spellings ("0.5") could be a distance or a count, not a leak.
    out.retain(|s| s.len() >= 8);
    out
}

/// The descriptors the server computes for these photos: the same engine and pipelines.
fn server_descriptors(enrolled: &str, frames: &[&str]) -> Vec<Descriptor> {
    let engine = face::Engine::load(&models_dir()).expect("engine");
    let config = FaceConfig::default();
    let describe = |name: &str, options: &face::PipelineOptions| {
        let image = face::decode_image(&photo(name), &ImageLimits::default()).expect("decode");
        engine
            .describe_single(&image, options)
            .expect("describe")
            .expect("one face")
            .descriptor
    };
    let mut out = vec![describe(
        enrolled,
        &pipeline(config.enrol_detector, &config),
    )];
    for frame in frames {
        out.push(describe(frame, &pipeline(config.verify_detector, &config)));
    }
    out
}

#[tokio::test]
async fn auth_flow_logs_decisions_but_no_password_cookie_nonce_key_or_descriptor() {
    require_fixtures();
    let logs = capture_logs();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let wrong_password = "not the password, but also secret";
    let r = login_as(&s, &c, "barack", wrong_password).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = login(&s, &c, "barack").await;
    let password_cookie = cookie_value(&r);
    let failed_nonce = challenge(&s, &c).await;
    let r = verify_with(&s, &c, &failed_nonce, vec![photo("biden_1")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let nonce = challenge(&s, &c).await;
    let r = verify_with(&s, &c, &nonce, vec![photo("obama_2")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let full_cookie = cookie_value(&r);
    let r = c.post(s.url("/api/logout")).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let key = std::fs::read(s.config.secret_key_path()).expect("secret key");
    drop(s);

    let log = logs.text();
    for (what, secret) in [
        ("password", PASSWORD),
        ("wrong password", wrong_password),
        ("password-level cookie", &password_cookie),
        ("full cookie", &full_cookie),
        ("failed challenge nonce", &failed_nonce),
        ("challenge nonce", &nonce),
    ] {
        assert!(secret.len() >= 16, "{what} is long enough to search for");
        assert!(
            !log.contains(secret),
            "the log holds the {what}:\n{}",
            lines_with(&log, secret)
        );
    }
    for spelling in key_spellings(&key) {
        assert!(
            !log.contains(&spelling),
            "the log holds the key as {spelling}"
        );
    }
    for d in server_descriptors("obama_1", &["biden_1", "obama_2"]) {
        for spelling in descriptor_spellings(&d) {
            assert!(
                !log.contains(&spelling),
                "the log holds a descriptor: {spelling}"
            );
        }
    }

    // The decisions are logged (and so the searches above ran over a real log).
    for event in [
        "account registered",
        "login failed: wrong password",
        "passed=false",
        "passed=true",
        "face verification",
        "kind=\"login_succeeded\"",
        "kind=\"face_failed\"",
        "kind=\"face_succeeded\"",
        "kind=\"logout\"",
    ] {
        assert!(log.contains(event), "no `{event}` in the log:\n{log}");
    }
}

#[test]
fn the_key_spellings_cover_hex_and_base64() {
    assert_eq!(
        base64(b"any carnal pleasure."),
        "YW55IGNhcm5hbCBwbGVhc3VyZS4="
    );
    assert_eq!(base64(b"any carnal pleasur"), "YW55IGNhcm5hbCBwbGVhc3Vy");
    assert_eq!(base64(b"\xfb\xff"), "+/8=");
    let spellings = key_spellings(&[0xfb, 0xff, 1, 2, 3, 4, 5, 6, 7]);
    assert!(spellings.contains(&"fbff01020304050607".to_owned()));
    assert!(spellings.contains(&"FBFF01020304050607".to_owned()));
    assert!(spellings.contains(&"-_8BAgMEBQYH".to_owned()));
    assert!(spellings.contains(&"[251, 255, 1, 2, 3, 4, 5, 6".to_owned()));
}
