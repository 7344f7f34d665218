//! Shared helpers for the server's integration tests: a real server on `127.0.0.1:0` with its
//! own data directory, HTTP clients with a cookie jar, the register -> login -> face check flow
//! with real photos from `../shared/faces`, and WebSocket clients.
//!
//! Use from a test file with `mod common;`. Not every test file uses every helper.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use server::app::{start, AppState};
use server::Config;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A photo from the shared test faces (`obama_1.jpg`...).
pub fn face_photo(name: &str) -> Vec<u8> {
    if let Some(dir) = std::env::var_os("FACEGATE_FACES") {
        if let Ok(bytes) = std::fs::read(PathBuf::from(dir).join(name)) {
            return bytes;
        }
    }
    let candidates = [
        workspace_root().join("../shared/faces").join(name),
        workspace_root().join("shared/faces").join(name),
    ];
    for path in &candidates {
        if let Ok(bytes) = std::fs::read(path) {
            return bytes;
        }
    }
    panic!("test photo {name} not found in ../shared/faces");
}

/// The face engine, loaded once per test binary from the workspace's `models/`.
fn engine() -> Arc<face::Engine> {
    static ENGINE: OnceLock<Arc<face::Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let dir = std::env::var_os("FACEGATE_MODELS")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("models"));
            Arc::new(
                face::Engine::load(&dir).expect("face models load (run `facegate models fetch`)"),
            )
        })
        .clone()
}

/// A configuration for tests: port 0, the given data directory, generous per-IP limits (every
/// test client shares 127.0.0.1).
pub fn test_config(data_dir: &Path) -> Config {
    let defaults = Config::default();
    Config {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        data_dir: data_dir.to_path_buf(),
        models_dir: workspace_root().join("models"),
        rate_limit: server::config::RateLimitConfig {
            register_burst: 1000,
            login_burst: 1000,
            face_burst: 1000,
            ..defaults.rate_limit.clone()
        },
        ..defaults
    }
}

/// A running server with its own temporary data directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: Arc<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh data directory.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = Arc::new(tempfile::tempdir()?);
        Self::start_in(dir).await
    }

    async fn start_in(dir: Arc<tempfile::TempDir>) -> anyhow::Result<Self> {
        let config = test_config(dir.path());
        let state = AppState::with_engine(config, engine()).await?;
        let server = start(state).await?;
        Ok(Self {
            addr: server.addr,
            state: server.state,
            task: server.task,
            dir,
        })
    }

    /// Stops this server (in-memory state is gone, open sockets are closed) and starts a new
    /// one on the same data directory, as a restart would.
    pub async fn restart(self) -> anyhow::Result<Self> {
        self.task.abort();
        self.state.chat.close_all();
        let dir = Arc::clone(&self.dir);
        drop(self);
        Self::start_in(dir).await
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A fresh client (own cookie jar) for this server.
    pub fn client(&self) -> Client {
        Client::new(self.base())
    }
}

/// An HTTP client with its own cookie jar, like one browser.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
}

/// A user taken through registration and the face check.
#[derive(Clone)]
pub struct Verified {
    pub id: i64,
    pub username: String,
    pub client: Client,
}

impl Client {
    pub fn new(base: String) -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self { base, http, jar }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The `Cookie` header this client would send, if any.
    pub fn cookie_header(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).ok()?;
        self.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Registers with the given enrolment photos. Returns the status and body.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        faces: &[&str],
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut form = Form::new()
            .text("username", username.to_owned())
            .text("email", format!("{username}@example.org"))
            .text("full_name", format!("{username} Tester"))
            .text("password", password.to_owned())
            .text("consent", "true");
        for name in faces {
            let part = Part::bytes(face_photo(name))
                .file_name((*name).to_owned())
                .mime_str(mime_of(name))?;
            form = form.part("face", part);
        }
        let response = self
            .http
            .post(self.url("/api/register"))
            .multipart(form)
            .send()
            .await?;
        json_of(response).await
    }

    pub async fn login(&self, login: &str, password: &str) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(self.url("/api/login"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await?;
        json_of(response).await
    }

    /// Asks for a challenge and verifies with the given frames.
    pub async fn face_check(&self, frames: &[&str]) -> anyhow::Result<(StatusCode, Value)> {
        let (status, body) = self.post_json("/api/face/challenge", &json!({})).await?;
        if status != StatusCode::OK {
            bail!("challenge refused: {status} {body}");
        }
        let challenge = body["challenge"]
            .as_str()
            .ok_or_else(|| anyhow!("no challenge in {body}"))?
            .to_owned();
        let mut form = Form::new().text("challenge", challenge);
        for name in frames {
            let part = Part::bytes(face_photo(name))
                .file_name((*name).to_owned())
                .mime_str(mime_of(name))?;
            form = form.part("frame", part);
        }
        let response = self
            .http
            .post(self.url("/api/face/verify"))
            .multipart(form)
            .send()
            .await?;
        json_of(response).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        json_of(self.http.get(self.url(path)).send().await?).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        json_of(self.http.post(self.url(path)).json(body).send().await?).await
    }

    pub async fn patch_json(
        &self,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        json_of(self.http.patch(self.url(path)).json(body).send().await?).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        json_of(self.http.delete(self.url(path)).send().await?).await
    }

    /// Opens `/api/ws` with this client's cookie and the given `Origin` (None: no header).
    pub async fn ws_with(
        &self,
        query: &str,
        origin: Option<&str>,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let url = format!(
            "{}/api/ws{}",
            self.base.replacen("http://", "ws://", 1),
            query
        );
        let mut request = url.into_client_request()?;
        if let Some(cookie) = self.cookie_header() {
            request.headers_mut().insert(
                "cookie",
                HeaderValue::from_str(&cookie).expect("cookie header"),
            );
        }
        if let Some(origin) = origin {
            request.headers_mut().insert(
                "origin",
                HeaderValue::from_str(origin).expect("origin header"),
            );
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(WsClient {
            stream,
            close_code: None,
        })
    }

    /// Opens `/api/ws` over a TCP socket with a tiny receive buffer, for a client that stops
    /// reading: the server's writes block after a few kilobytes instead of megabytes.
    pub async fn ws_small_window(&self) -> anyhow::Result<WsClient> {
        let addr: SocketAddr = self.base.trim_start_matches("http://").parse()?;
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(2048)?;
        let stream = socket.connect(addr).await?;
        let url = format!("ws://{addr}/api/ws");
        let mut request = url.into_client_request()?;
        if let Some(cookie) = self.cookie_header() {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(&cookie)?);
        }
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(&self.base)?);
        let (stream, _) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
        Ok(WsClient {
            stream,
            close_code: None,
        })
    }

    /// Opens `/api/ws` from this server's own origin.
    pub async fn ws(&self, query: &str) -> anyhow::Result<WsClient> {
        let origin = self.base.clone();
        self.ws_with(query, Some(&origin))
            .await
            .context("opening the chat socket")
    }
}

/// Registers `username` with `enrol` photos, logs in and passes the face check with `verify`
/// photos: the client ends with a `full` session.
pub async fn verified_user(
    server: &TestServer,
    username: &str,
    enrol: &[&str],
    verify: &[&str],
) -> anyhow::Result<Verified> {
    let client = server.client();
    let password = "correct horse battery staple";
    let (status, user) = client.register(username, password, enrol).await?;
    if status != StatusCode::CREATED {
        bail!("register {username}: {status} {user}");
    }
    let (status, body) = client.login(username, password).await?;
    if status != StatusCode::OK {
        bail!("login {username}: {status} {body}");
    }
    let (status, body) = client.face_check(verify).await?;
    if status != StatusCode::OK || body["level"] != "full" {
        bail!("face check {username}: {status} {body}");
    }
    let id = user["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("no id in {user}"))?;
    Ok(Verified {
        id,
        username: username.to_owned(),
        client,
    })
}

/// Registers and logs in without the face check: a session at level `password`.
pub async fn password_only_user(
    server: &TestServer,
    username: &str,
    enrol: &str,
) -> anyhow::Result<Client> {
    let client = server.client();
    let password = "correct horse battery staple";
    let (status, body) = client.register(username, password, &[enrol]).await?;
    if status != StatusCode::CREATED {
        bail!("register {username}: {status} {body}");
    }
    let (status, body) = client.login(username, password).await?;
    if status != StatusCode::OK {
        bail!("login {username}: {status} {body}");
    }
    Ok(client)
}

fn mime_of(name: &str) -> &'static str {
    if name.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

async fn json_of(response: reqwest::Response) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status();
    let text = response.text().await?;
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, value))
}

/// A chat WebSocket client that parses every text frame as JSON.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Set once a close frame was read: its code, if it had one.
    close_code: Option<Option<u16>>,
}

/// How long a test waits for a frame that should come; generous, not a timing assertion.
pub const WAIT: Duration = Duration::from_secs(20);

impl WsClient {
    /// The next JSON frame, skipping protocol pings. Errors on close or after [`WAIT`].
    pub async fn next_json(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .context("no frame within the wait")?;
            match frame {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    self.close_code = Some(frame.as_ref().map(|f| u16::from(f.code)));
                    bail!("socket closed: {frame:?}")
                }
                Some(Ok(other)) => bail!("unexpected frame {other:?}"),
                Some(Err(err)) => bail!("socket error: {err}"),
                None => bail!("socket ended"),
            }
        }
    }

    /// The next frame whose `type` is `kind` (others are skipped).
    pub async fn next_of(&mut self, kind: &str) -> anyhow::Result<Value> {
        loop {
            let value = self.next_json().await?;
            if value["type"] == kind {
                return Ok(value);
            }
        }
    }

    /// Waits for the server to close the socket; returns the close code (None if it ended
    /// without a close frame).
    pub async fn closed(&mut self) -> anyhow::Result<Option<u16>> {
        if let Some(code) = self.close_code {
            return Ok(code);
        }
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .context("socket not closed within the wait")?;
            match frame {
                Some(Ok(Message::Close(frame))) => return Ok(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ok(None),
            }
        }
    }

    pub async fn send_json(&mut self, value: &Value) -> anyhow::Result<()> {
        self.stream
            .send(Message::Text(value.to_string().into()))
            .await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, message: Message) -> anyhow::Result<()> {
        self.stream.send(message).await?;
        Ok(())
    }
}
