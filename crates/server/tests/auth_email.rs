//! Email, against a real SMTP server (tools/smtp-sink.py on aiosmtpd) that the test starts:
//! address verification at registration, a reset link (single use, only to a verified
//! address, and only the first step: the face must follow), and security notices.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The SMTP server of one test; killed on drop.
struct Smtp {
    child: Child,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_sink() -> Smtp {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mail.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/smtp-sink.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 must run tools/smtp-sink.py (needs `pip install aiosmtpd`)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("sink output");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!("the SMTP sink did not start (is aiosmtpd installed?): {line:?}")
        });
    Smtp {
        child,
        port,
        out,
        _dir: dir,
    }
}

impl Smtp {
    /// Waits for the `n`th message (1-based) and returns every message so far. Sleeps on the
    /// runtime (never the thread): the server's sending task runs on it too.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails: Vec<Value> = std::fs::read_to_string(&self.out)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} emails arrived: {mails:?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn count(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

/// The token after `#` in the link of `mail`'s body that contains `path`.
fn link_token(mail: &Value, path: &str) -> String {
    let body = mail["body"].as_str().expect("body");
    let at = body
        .find(&format!("{path}#"))
        .unwrap_or_else(|| panic!("no {path} link in {body}"));
    body[at + path.len() + 1..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

#[tokio::test]
async fn a_verified_address_gets_a_single_use_reset_link_that_only_begins_a_sign_in() {
    require_fixtures();
    let smtp = smtp_sink();
    let port = smtp.port;
    let s = start(move |c| {
        c.email.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.email.from = "facegate <noreply@example.org>".into();
    })
    .await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0]["to"], json!(["barack@example.org"]));
    assert_eq!(mails[0]["subject"], "Confirm your email address");
    let verify = link_token(&mails[0], "/verify-email");
    assert_eq!(verify.len(), 64);

    // Before verification, no reset link is sent (the answer is the same).
    let r = post(&s, &c, "/api/password-reset", json!({ "login": "barack" })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = post(&s, &c, "/api/password-reset", json!({ "login": "nobody" })).await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "an unknown login looks the same"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        smtp.count(),
        1,
        "nothing sent to an unverified address or nobody"
    );

    let r = post(&s, &c, "/api/email/verify", json!({ "token": verify })).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = post(&s, &c, "/api/email/verify", json!({ "token": verify })).await;
    assert_eq!(error_code(r).await, "challenge_invalid", "single use");

    let r = post(
        &s,
        &c,
        "/api/password-reset",
        json!({ "login": "barack@example.org" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails[1]["subject"], "Reset your facegate password");
    let reset = link_token(&mails[1], "/reset-password");

    let d = client();
    let r = post(
        &s,
        &d,
        "/api/password-reset/finish",
        json!({ "token": reset }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["accepts"], json!(["face"]), "{body}");
    let r = post(
        &s,
        &client(),
        "/api/password-reset/finish",
        json!({ "token": reset }),
    )
    .await;
    assert_eq!(
        error_code(r).await,
        "challenge_invalid",
        "the link works once"
    );
    // Only the first step: the chat stays closed until the face passes.
    let me = get_json(&s, &d, "/api/me").await;
    assert_eq!(me["auth_level"], "password");
    assert_eq!(me["first_factor"], "email_link");
    assert_eq!(
        face_check(&s, &d, &["obama_2"]).await.status(),
        StatusCode::OK
    );
    let r = post(
        &s,
        &d,
        "/api/me/password",
        json!({ "new_password": "reset by email link" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login_as(&s, &client(), "barack", "reset by email link")
            .await
            .status(),
        StatusCode::OK
    );
    // The face check's new-browser notice, then the password change's.
    let mails = smtp.wait_for(4).await;
    assert!(
        mails
            .iter()
            .any(|m| m["subject"] == "Your facegate password was changed"),
        "{mails:?}"
    );
}

#[tokio::test]
async fn security_notices_reach_the_owner_and_an_email_change_reaches_the_old_address() {
    require_fixtures();
    let smtp = smtp_sink();
    let port = smtp.port;
    let s = start(move |c| c.email.smtp_url = format!("smtp://127.0.0.1:{port}")).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    // Registration's verification, then the first sign-in from this browser.
    let mails = smtp.wait_for(2).await;
    assert!(mails
        .iter()
        .any(|m| m["subject"] == "New sign-in to your facegate account"));
    // The same browser again: no new-device notice.
    let d = client();
    login(&s, &d, "barack").await;
    assert_eq!(
        face_check(&s, &d, &["obama_3"]).await.status(),
        StatusCode::OK
    );
    let r = post(&s, &c, "/api/me/recovery-codes", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let codes: Value = r.json().await.expect("json");
    let mails = smtp.wait_for(3).await;
    assert_eq!(
        mails[2]["subject"],
        "A sign-in method was added to your facegate account"
    );
    let r = c
        .put(s.url("/api/me/email"))
        .json(&json!({ "email": "new@example.org", "password": PASSWORD }))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    let mails = smtp.wait_for(6).await;
    let to = |addr: &str, subject: &str| {
        mails
            .iter()
            .any(|m| m["to"] == json!([addr]) && m["subject"] == subject)
    };
    assert!(to(
        "barack@example.org",
        "The email of your facegate account was changed"
    ));
    assert!(to("new@example.org", "Confirm your email address"));
    assert_eq!(
        mails
            .iter()
            .filter(|m| m["subject"] == "New sign-in to your facegate account")
            .count(),
        1,
        "one new-device notice: {mails:?}"
    );
    // No recovery code in any mail.
    for m in &mails {
        let body = m["body"].as_str().unwrap_or_default();
        for code in codes["codes"].as_array().expect("codes") {
            assert!(!body.contains(code.as_str().unwrap_or("?")), "{body}");
        }
    }
}
