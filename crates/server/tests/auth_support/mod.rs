//! Shared helpers of the auth integration tests: a real server on 127.0.0.1:0 with a fresh data
//! directory, a cookie-keeping HTTP client, and the test photos.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode};
use server::app::{self, AppState};
use server::Config;

pub const PASSWORD: &str = "correct horse battery staple";

/// `<repo>/../shared/faces`, or `$FACEGATE_FACES`.
pub fn faces_dir() -> PathBuf {
    std::env::var_os("FACEGATE_FACES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/faces"),
        PathBuf::from,
    )
}

/// `$FACEGATE_MODELS` or `<repo>/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("FACEGATE_MODELS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// Whether the photos and models are present; prints why a test is skipped when they are not.
pub fn fixtures_present(test: &str) -> bool {
    let ok = faces_dir().join("obama_1.jpg").exists()
        && models_dir().join("face_recognition_model.bin").exists();
    if !ok {
        eprintln!(
            "SKIPPED {test}: needs photos in {} and models in {}",
            faces_dir().display(),
            models_dir().display()
        );
    }
    ok
}

/// A photo from the shared faces directory (`obama_1`) or the models dir (`sample1`).
pub fn photo(name: &str) -> Vec<u8> {
    let path = if name.starts_with("sample") {
        models_dir().join(format!("{name}.jpg"))
    } else if name.ends_with(".png") {
        faces_dir().join(name)
    } else {
        faces_dir().join(format!("{name}.jpg"))
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn engine() -> Arc<face::Engine> {
    static ENGINE: OnceLock<Arc<face::Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(face::Engine::load(&models_dir()).expect("load face models")))
        .clone()
}

/// A running server and its data directory (deleted on drop).
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: Arc<tempfile::TempDir>,
    pub config: Config,
    pub state: AppState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The configuration every test starts from: port 0, a temp data dir, generous per-IP limits
/// (tests run from one address) so that only the rule under test triggers.
pub fn test_config(dir: &tempfile::TempDir) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        models_dir: models_dir(),
        ..Config::default()
    };
    c.rate_limit.login_burst = 1000;
    c.rate_limit.register_burst = 1000;
    c.rate_limit.face_burst = 1000;
    c.rate_limit.detect_burst = 1000;
    c
}

pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut config = test_config(&dir);
    tweak(&mut config);
    start_in(dir, config).await
}

/// Starts a server on an existing data directory (a "restart").
pub async fn start_in(dir: Arc<tempfile::TempDir>, config: Config) -> TestServer {
    let state = AppState::with_engine(config.clone(), engine())
        .await
        .expect("state");
    let server = app::start(state).await.expect("start");
    TestServer {
        addr: server.addr,
        base: format!("http://{}", server.addr),
        dir,
        config,
        state: server.state,
        task: server.task,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("facegate.db")
    }

    /// Stops serving (the data directory stays).
    pub async fn stop(self) -> (Arc<tempfile::TempDir>, Config) {
        self.task.abort();
        let dir = Arc::clone(&self.dir);
        let config = self.config.clone();
        drop(self);
        (dir, config)
    }
}

/// A client that keeps cookies, like a browser tab.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

fn image_part(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name("image.jpg")
        .mime_str("image/jpeg")
        .expect("mime")
}

pub fn register_form(username: &str, password: &str, faces: Vec<Vec<u8>>) -> Form {
    let mut form = Form::new()
        .text("username", username.to_owned())
        .text("email", format!("{username}@example.org"))
        .text("full_name", format!("Test {username}"))
        .text("password", password.to_owned())
        .text("consent", "true");
    for f in faces {
        form = form.part("face", image_part(f));
    }
    form
}

pub async fn register_with(
    s: &TestServer,
    c: &Client,
    username: &str,
    faces: Vec<Vec<u8>>,
) -> Response {
    c.post(s.url("/api/register"))
        .multipart(register_form(username, PASSWORD, faces))
        .send()
        .await
        .expect("register request")
}

/// Registers `username` with one photo; panics unless 201.
pub async fn register(s: &TestServer, c: &Client, username: &str, face: &str) {
    let r = register_with(s, c, username, vec![photo(face)]).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "register: {}",
        r.text().await.unwrap_or_default()
    );
}

pub async fn login_as(s: &TestServer, c: &Client, login: &str, password: &str) -> Response {
    c.post(s.url("/api/login"))
        .json(&serde_json::json!({"login": login, "password": password}))
        .send()
        .await
        .expect("login request")
}

/// Logs in with the right password; panics unless 200.
pub async fn login(s: &TestServer, c: &Client, username: &str) -> Response {
    let r = login_as(s, c, username, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    r
}

pub async fn challenge(s: &TestServer, c: &Client) -> String {
    let r = c
        .post(s.url("/api/face/challenge"))
        .send()
        .await
        .expect("challenge request");
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["expires_in"], 120);
    body["challenge"]
        .as_str()
        .expect("challenge string")
        .to_owned()
}

pub async fn verify_with(
    s: &TestServer,
    c: &Client,
    challenge: &str,
    frames: Vec<Vec<u8>>,
) -> Response {
    let mut form = Form::new().text("challenge", challenge.to_owned());
    for f in frames {
        form = form.part("frame", image_part(f));
    }
    c.post(s.url("/api/face/verify"))
        .multipart(form)
        .send()
        .await
        .expect("verify request")
}

/// Challenge + verify with the named photos.
pub async fn face_check(s: &TestServer, c: &Client, frames: &[&str]) -> Response {
    let ch = challenge(s, c).await;
    verify_with(s, c, &ch, frames.iter().map(|f| photo(f)).collect()).await
}

/// Register, login and pass the face check with `face` / `frame`.
pub async fn full_session(s: &TestServer, username: &str, face: &str, frame: &str) -> Client {
    let c = client();
    register(s, &c, username, face).await;
    login(s, &c, username).await;
    let r = face_check(s, &c, &[frame]).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "verify: {}",
        r.text().await.unwrap_or_default()
    );
    c
}

/// The session cookie set by a response (name=value), if any.
pub fn set_cookie(r: &Response) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("facegate_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The `error.code` of a JSON error response.
pub async fn error_code(r: Response) -> String {
    let body: serde_json::Value = r.json().await.expect("json error body");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}
