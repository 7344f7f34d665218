//! Chat helpers shared by the chat test files: three verified people (real photos), a direct
//! channel between two of them, a send, and the socket's first frame.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{verified_user, Client, TestServer, Verified, WsClient};

pub async fn alice(server: &TestServer) -> Verified {
    verified_user(server, "alice", &["obama_1.jpg"], &["obama_2.jpg"])
        .await
        .expect("alice verified")
}

pub async fn bob(server: &TestServer) -> Verified {
    verified_user(server, "bob", &["biden_1.jpg"], &["biden_2.jpg"])
        .await
        .expect("bob verified")
}

pub async fn carol(server: &TestServer) -> Verified {
    verified_user(
        server,
        "carol",
        &["kit_harington_1.jpg"],
        &["kit_harington_2.jpg"],
    )
    .await
    .expect("carol verified")
}

pub async fn direct(a: &Verified, b: &Verified) -> i64 {
    let (status, body) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "direct", "members": [b.id]}),
        )
        .await
        .expect("create direct");
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{status} {body}"
    );
    body["id"].as_i64().expect("channel id")
}

pub async fn send(
    user: &Verified,
    channel: i64,
    text: &str,
    client_id: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"text": text});
    if let Some(cid) = client_id {
        body["client_id"] = json!(cid);
    }
    user.client
        .post_json(&format!("/api/channels/{channel}/messages"), &body)
        .await
        .expect("send request")
}

pub async fn hello(ws: &mut WsClient) -> Value {
    let hello = ws.next_json().await.expect("hello frame");
    assert_eq!(hello["type"], "hello", "{hello}");
    hello
}

/// `PUT path` with no body (adding a reaction), as `(status, JSON)`.
pub async fn put(client: &super::Client, path: &str) -> anyhow::Result<(StatusCode, Value)> {
    super::json_of(client.http.put(client.url(path)).send().await?).await
}

/// The server's OpenAPI document.
pub async fn openapi(server: &super::TestServer) -> Value {
    let (status, doc) = server
        .client()
        .get("/api/openapi.json")
        .await
        .expect("openapi");
    assert_eq!(status, StatusCode::OK);
    doc
}

/// The statuses the document lists for `method` on `path`, sorted.
pub fn statuses(doc: &Value, path: &str, method: &str) -> Vec<String> {
    let mut keys: Vec<String> = doc["paths"][path][method]["responses"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Uploads `bytes` as a file named `name` into `channel`, as `(status, JSON)`.
pub async fn upload(
    client: &Client,
    channel: i64,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    // The name goes out as written, UTF-8 included, as browsers send it.
    let form = Form::new()
        .percent_encode_noop()
        .part("file", Part::bytes(bytes).file_name(name.to_owned()));
    let response = client
        .http
        .post(client.url(&format!("/api/channels/{channel}/attachments")))
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
