//! `GET /api/me/export` and `facegate admin export-user`: the personal data export, field by
//! field, and what must never be in it.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn send(user: &Verified, channel: i64, text: &str) -> i64 {
    let (status, m) = user
        .client
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": text}),
        )
        .await
        .expect("send");
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m["id"].as_i64().expect("message id")
}

async fn export(user: &Verified) -> reqwest::Response {
    user.client
        .http
        .get(user.client.url("/api/me/export"))
        .send()
        .await
        .expect("export")
}

#[tokio::test]
async fn the_export_holds_the_account_channels_sent_messages_events_and_no_secret() {
    require_fixtures();
    let s = start(|_| {}).await;
    let a = verified_user(
        &s,
        "alice",
        &["obama_1.jpg", "obama_3.jpg"],
        &["obama_2.jpg"],
    )
    .await
    .expect("alice");
    let b = verified_user(&s, "bob", &["biden_1.jpg"], &["biden_2.jpg"])
        .await
        .expect("bob");
    let (_, direct) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "direct", "members": [b.id]}),
        )
        .await
        .expect("direct");
    let direct = direct["id"].as_i64().expect("id");
    let (_, group) = b
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "team", "members": [a.id]}),
        )
        .await
        .expect("group");
    let group = group["id"].as_i64().expect("id");
    let first = send(&a, direct, "hello bob").await;
    let bobs = send(&b, direct, "bob's own words").await;
    let (st, in_thread) = a
        .client
        .post_json(
            &format!("/api/channels/{direct}/messages"),
            &json!({"text": "in his thread", "thread_root": bobs, "reply_to": bobs}),
        )
        .await
        .expect("thread reply");
    assert_eq!(st, StatusCode::CREATED, "{in_thread}");
    let in_thread = in_thread["id"].as_i64().expect("id");
    let edited = send(&a, group, "typo").await;
    let deleted = send(&a, group, "regret").await;
    let (st, _) = a
        .client
        .patch_json(
            &format!("/api/channels/{group}/messages/{edited}"),
            &json!({"text": "fixed"}),
        )
        .await
        .expect("edit");
    assert_eq!(st, StatusCode::OK);
    let (st, _) = a
        .client
        .delete(&format!("/api/channels/{group}/messages/{deleted}"))
        .await
        .expect("delete");
    assert!(st.is_success(), "{st}");

    let r = export(&a).await;
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        disposition,
        "attachment; filename=\"facegate-export-alice.json\""
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    let text = r.text().await.expect("body");
    let e: Value = serde_json::from_str(&text).expect("json");

    assert_eq!(e["format"], "facegate-personal-export");
    assert_eq!(e["format_version"], 1);
    assert!(e["exported_at"]
        .as_i64()
        .is_some_and(|t| t > 1_600_000_000_000));
    let p = &e["profile"];
    assert_eq!(p["id"], a.id);
    assert_eq!(p["username"], "alice");
    assert_eq!(p["email"], "alice@example.org");
    assert_eq!(p["full_name"], "alice Tester");
    assert!(p["created_at"].as_i64().is_some() && p["consent_at"] == p["created_at"]);
    assert_eq!(p.as_object().expect("profile").len(), 6, "{p}");

    let f = &e["factors"];
    assert_eq!(f["password"]["scheme"], "argon2id");
    assert_eq!(f["password"]["consecutive_failures"], 0);
    assert_eq!(f["face"]["templates"], 2, "two enrolment photos");
    assert_eq!(f["face"]["enrolled_at"].as_array().expect("dates").len(), 2);
    assert_eq!(f["face"]["consecutive_failures"], 0);

    let sessions = e["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["level"], "full");
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    let keys: Vec<&String> = sessions[0].as_object().expect("session").keys().collect();
    assert_eq!(
        keys,
        ["created_at", "ip", "last_seen_at", "level", "user_agent"]
    );

    let channels = e["channels"].as_array().expect("channels");
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0]["id"], direct);
    assert_eq!(channels[0]["kind"], "direct");
    assert_eq!(channels[0]["name"], Value::Null);
    assert_eq!(channels[1]["id"], group);
    assert_eq!(channels[1]["kind"], "group");
    assert_eq!(channels[1]["name"], "team");
    assert_eq!(channels[1]["owner_id"], b.id);
    for c in channels {
        let members: Vec<&str> = c["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter_map(|m| m["username"].as_str())
            .collect();
        assert_eq!(members, ["alice", "bob"]);
        assert!(c["joined_at"].as_i64().is_some() && c["last_read_id"].as_i64().is_some());
    }

    let messages = e["messages"].as_array().expect("messages");
    let summary: Vec<(i64, i64, &str, bool, bool)> = messages
        .iter()
        .map(|m| {
            (
                m["id"].as_i64().expect("id"),
                m["channel_id"].as_i64().expect("channel"),
                m["text"].as_str().expect("text"),
                m["edited_at"].is_i64(),
                m["deleted_at"].is_i64(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (first, direct, "hello bob", false, false),
            (in_thread, direct, "in his thread", false, false),
            (edited, group, "fixed", true, false),
            (deleted, group, "", false, true)
        ],
        "only alice's messages, bob's are not hers"
    );
    // Where each sits: a reply in a thread says which, and what it quotes.
    assert_eq!(
        (&messages[1]["thread_root"], &messages[1]["reply_to"]),
        (&json!(bobs), &json!(bobs))
    );
    assert_eq!(messages[0]["thread_root"], Value::Null);

    let kinds: Vec<&str> = e["security_events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|k| k["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["face_succeeded", "login_succeeded", "registered"],
        "newest first"
    );

    // Nothing secret: no hash, template, nonce, session id or password, by name or by value.
    let hash = s
        .state
        .db
        .password_hash(a.id)
        .await
        .expect("db")
        .expect("hash");
    let cookie = a.client.cookie_header().expect("cookie");
    let session_id = cookie.split('=').nth(1).expect("session value");
    let template = &s.state.db.templates(a.id).await.expect("templates")[0];
    for secret in [
        hash.0.as_str(),
        session_id,
        PASSWORD,
        &hex::encode(&template.ciphertext[..8]),
        &hex::encode(&template.nonce),
    ] {
        assert!(
            !text.contains(secret),
            "the export must not contain a secret"
        );
    }
    for name in [
        "password_hash",
        "hash",
        "nonce",
        "ciphertext",
        "descriptor",
        "id_hash",
        "secret",
        "token",
    ] {
        assert!(
            !text.contains(&format!("\"{name}\"")),
            "field {name} must not be exported"
        );
    }

    // The export is in the trail; the operator's command gives the same document.
    let kinds = event_kinds(&s, &a.client.http).await;
    assert_eq!(kinds[0], "data_exported");
    let admin = server::admin::export_user(&s.state.db, "ALICE", 5)
        .await
        .expect("admin export");
    let admin = serde_json::to_value(&admin).expect("json");
    for part in ["profile", "factors", "channels", "messages"] {
        assert_eq!(admin[part], e[part], "{part}");
    }
    assert_eq!(
        admin["security_events"].as_array().expect("events").len(),
        4
    );
}

#[tokio::test]
async fn the_export_needs_a_full_session_and_is_limited_per_account() {
    require_fixtures();
    let s = start(|_| {}).await;
    let anonymous = client();
    let r = anonymous
        .get(s.url("/api/me/export"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let half = password_only_user(&s, "pat", "biden_1.jpg")
        .await
        .expect("pat");
    let r = half
        .http
        .get(half.url("/api/me/export"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "face_required");

    let a = verified_user(&s, "alice", &["obama_1.jpg"], &["obama_2.jpg"])
        .await
        .expect("alice");
    for i in 0..3 {
        assert_eq!(
            export(&a).await.status(),
            StatusCode::OK,
            "export {i} of the burst"
        );
    }
    let r = export(&a).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) > 0);
    assert_eq!(error_code(r).await, "rate_limited");
    // Documented like every endpoint, with its schema.
    let doc = get_json(&s, &client(), "/api/openapi.json").await;
    let ok = &doc["paths"]["/api/me/export"]["get"]["responses"]["200"];
    assert!(
        ok["content"]["application/json"]["schema"].is_object(),
        "{ok}"
    );
    assert!(ok["headers"]["content-disposition"].is_object(), "{ok}");
    assert!(doc["components"]["schemas"]["PersonalExport"].is_object());
    // Another account has its own allowance.
    let b = verified_user(
        &s,
        "bob",
        &["kit_harington_1.jpg"],
        &["kit_harington_2.jpg"],
    )
    .await
    .expect("bob");
    assert_eq!(export(&b).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_export_lists_my_uploads_the_people_i_blocked_and_my_reports() {
    require_fixtures();
    let s = start(|_| {}).await;
    let a = verified_user(&s, "alice", &["obama_1.jpg"], &["obama_2.jpg"])
        .await
        .expect("alice");
    let b = verified_user(&s, "bob", &["biden_1.jpg"], &["biden_2.jpg"])
        .await
        .expect("bob");
    let direct = common::chat::direct(&a, &b).await;
    let (status, file) =
        common::chat::upload(&a.client, direct, "notes.txt", b"plain words".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let rude = send(&b, direct, "something rude").await;
    let (status, body) = a
        .client
        .post_json(
            &format!("/api/channels/{direct}/messages/{rude}/report"),
            &json!({"reason": "insulting"}),
        )
        .await
        .expect("report");
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = common::chat::put(&a.client, &format!("/api/blocks/{}", b.id))
        .await
        .expect("block");
    assert!(status.is_success(), "{status} {body}");

    let e: Value = export(&a).await.json().await.expect("json");
    let uploads = e["uploads"].as_array().expect("uploads");
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert_eq!(uploads[0]["id"], file["id"]);
    assert_eq!(uploads[0]["name"], "notes.txt");
    assert_eq!(uploads[0]["size"], 11);
    assert_eq!(uploads[0]["message_id"], Value::Null, "never sent");
    assert_eq!(e["blocked"][0]["username"], "bob");
    assert_eq!(e["blocked"].as_array().expect("blocked").len(), 1);
    let reports = e["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["message_id"], rude);
    assert_eq!(reports[0]["text"], "something rude");
    assert_eq!(reports[0]["reason"], "insulting");
    // Bob's export holds none of it: not his uploads, blocks or reports.
    let e: Value = export(&b).await.json().await.expect("json");
    assert_eq!(e["uploads"], json!([]));
    assert_eq!(e["blocked"], json!([]));
    assert_eq!(e["reports"], json!([]));
}
