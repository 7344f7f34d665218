//! Shared helpers of the server's integration tests (every `tests/*.rs` uses this one module):
//! a real server on `127.0.0.1:0` with its own data directory, the test photos and models, the
//! register -> login -> face check flow over HTTP, and chat WebSocket clients.
//!
//! Two client styles share the same forms and server: free functions over a cookie-keeping
//! `reqwest::Client` that return the raw `Response` (for tests that look at headers and
//! cookies), and [`Client`], which returns `(status, JSON)` pairs for the chat tests.
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
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub mod chat;

use server::app::AppState;
use server::serve;
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

/// Asserts that the photos and models are present: for suites that must fail, never skip,
/// without them.
pub fn require_fixtures() {
    for path in [
        faces_dir().join("obama_1.jpg"),
        faces_dir().join("biden_1.jpg"),
        models_dir().join("face_recognition_model.bin"),
        models_dir().join("ssd_mobilenetv1_model.bin"),
    ] {
        assert!(
            path.is_file(),
            "missing fixture {} (photos: ../shared/faces or FACEGATE_FACES; models: `facegate models fetch` or FACEGATE_MODELS)",
            path.display()
        );
    }
}

/// A photo from the shared faces directory (`obama_1`, `obama_1.jpg`, `edge_rgba_32bit.png`)
/// or the models dir (`sample1`). A name without an extension means `.jpg`.
pub fn photo(name: &str) -> Vec<u8> {
    let file = if Path::new(name).extension().is_some() {
        name.to_owned()
    } else {
        format!("{name}.jpg")
    };
    let path = if name.starts_with("sample") {
        models_dir().join(file)
    } else {
        faces_dir().join(file)
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The face engine, loaded once per test binary.
pub fn engine() -> Arc<face::Engine> {
    static ENGINE: OnceLock<Arc<face::Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(face::Engine::load(&models_dir()).expect("load face models")))
        .clone()
}

/// The configuration every test starts from: port 0, the given data dir, generous per-IP
/// limits (every test client shares 127.0.0.1) so that only the rule under test triggers.
pub fn test_config(data_dir: &Path) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data_dir.to_path_buf(),
        models_dir: models_dir(),
        ..Config::default()
    };
    c.rate_limit.login_burst = 1000;
    c.rate_limit.register_burst = 1000;
    c.rate_limit.face_burst = 1000;
    c.rate_limit.detect_burst = 1000;
    c.rate_limit.chat_write_burst = 100_000;
    // Most suites test the match rule and the lockouts through the frame-upload check; the live
    // check's suite (live_check.rs) turns liveness back on.
    c.face.liveness = server::config::LivenessMode::Off;
    c
}

/// A running server and its data directory (deleted when the last holder drops it).
pub struct TestServer {
    pub addr: SocketAddr,
    /// The `/metrics` listener, when the configuration sets `metrics_listen`.
    pub metrics_addr: Option<SocketAddr>,
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

/// Starts a server on a fresh data directory with [`test_config`] changed by `tweak`.
pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut config = test_config(dir.path());
    tweak(&mut config);
    start_in(dir, config).await
}

/// Names a PostgreSQL database (`postgres://postgres@127.0.0.1:5432/facegate_test`) to run the
/// suites against instead of SQLite; `tools/test` runs them once each way. Each server gets its
/// own schema there, so tests run side by side without seeing each other's rows.
pub const POSTGRES_URL_ENV: &str = "FACEGATE_TEST_POSTGRES_URL";

/// Starts a server on SQLite whatever [`POSTGRES_URL_ENV`] says: for what only SQLite has (its
/// files on disk, the online snapshot of a backup).
pub async fn start_sqlite(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut config = sqlite_config(dir.path());
    tweak(&mut config);
    start_in(dir, config).await
}

/// [`test_config`] on the SQLite file of `data_dir`, whatever [`POSTGRES_URL_ENV`] says.
pub fn sqlite_config(data_dir: &Path) -> Config {
    let mut config = test_config(data_dir);
    config.database_url = Some(format!(
        "sqlite://{}?mode=rwc",
        config.database_path().display()
    ));
    config
}

/// The PostgreSQL database that tests which always need one use (a copy to PostgreSQL), named
/// by `tools/test`; falls back to [`POSTGRES_URL_ENV`]. Fails the test when neither is set: a
/// missing service is a failure, never a skip.
pub const POSTGRES_SERVICE_ENV: &str = "FACEGATE_TEST_POSTGRES_SERVICE_URL";

pub fn postgres_service_url() -> String {
    [POSTGRES_SERVICE_ENV, POSTGRES_URL_ENV]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| {
            panic!(
                "this test needs PostgreSQL: set {POSTGRES_SERVICE_ENV} to a database URL \
                 (`bash tools/postgres-for-tests` prints one; tools/test sets it)"
            )
        })
}

/// A new, empty schema in the database at `base`, and the URL that works in it.
pub async fn new_postgres_schema(base: &str) -> String {
    let schema = format!("t{:016x}", rand::random::<u64>());
    let admin = sqlx::PgPool::connect(base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at the test URL: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options[search_path]={schema},public")
}

/// When [`POSTGRES_URL_ENV`] is set and `config` names no database yet: a new schema in that
/// database, and a server key file in the data directory (a URL requires one).
async fn use_postgres_if_asked(config: &mut Config) {
    let Some(base) = std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    if config.database_url.is_some() {
        return;
    }
    use_postgres(config, &base).await;
}

/// A new schema in the PostgreSQL database `base`, and a server key file in the data directory.
async fn use_postgres(config: &mut Config, base: &str) {
    config.database_url = Some(new_postgres_schema(base).await);
    let key = config.data_dir.join("secret.key");
    if !key.exists() {
        std::fs::write(&key, rand::random::<[u8; 32]>()).expect("write key");
    }
    config.secret_key_file = Some(key);
}

/// Names the Redis of the multi-node suites (`redis://127.0.0.1:6379`); `tools/test` sets it.
pub const REDIS_URL_ENV: &str = "FACEGATE_TEST_REDIS_URL";
/// A Redis URL: every test server, not only the multi-node ones, then runs over the bus.
pub const ALL_ON_BUS_ENV: &str = "FACEGATE_TEST_ALL_ON_BUS";

/// `n` nodes of one deployment: one PostgreSQL schema, one server key, one bus (under a prefix
/// of their own, so test runs sharing the Redis do not see each other). Panics, naming the
/// variable, when PostgreSQL or Redis is not configured: these tests never skip.
pub async fn start_cluster(n: usize, tweak: impl Fn(&mut Config)) -> Vec<TestServer> {
    start_cluster_on_bus(n, &redis_url(), tweak).await
}

/// The Redis of the multi-node suites; panics, naming the variable, when it is not set.
pub fn redis_url() -> String {
    std::env::var(REDIS_URL_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!("{REDIS_URL_ENV} is not set: the multi-node tests need it (tools/test sets it)")
        })
}

/// Like [`start_cluster`], on the Redis at `bus_url`.
pub async fn start_cluster_on_bus(
    n: usize,
    bus_url: &str,
    tweak: impl Fn(&mut Config),
) -> Vec<TestServer> {
    start_nodes_reaching_the_bus_at(&vec![bus_url.to_owned(); n], tweak).await
}

/// One node per entry of `bus_urls`, each reaching the one bus at its own address (a test can
/// put a proxy between one node and the bus).
pub async fn start_nodes_reaching_the_bus_at(
    bus_urls: &[String],
    tweak: impl Fn(&mut Config),
) -> Vec<TestServer> {
    // In the SQLite run of the suites only tests like these use PostgreSQL.
    let postgres = postgres_service_url();
    let prefix = format!("facegate-test-{:016x}", rand::random::<u64>());
    let mut shared: Option<Config> = None;
    let mut nodes = Vec::with_capacity(bus_urls.len());
    for bus_url in bus_urls {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut config = test_config(dir.path());
        tweak(&mut config);
        config.bus_url = Some(bus_url.clone());
        config.bus_prefix = prefix.clone();
        match &shared {
            Some(first) => {
                config.database_url = first.database_url.clone();
                config.secret_key_file = first.secret_key_file.clone();
            }
            None => {
                use_postgres(&mut config, &postgres).await;
                shared = Some(config.clone());
            }
        }
        nodes.push(start_in(dir, config).await);
    }
    nodes
}

impl Client {
    /// The same browser (cookie jar) talking to another node.
    pub fn on(&self, node: &TestServer) -> Client {
        Client {
            base: node.base(),
            ..self.clone()
        }
    }
}

/// Starts a server on an existing data directory (a "restart").
pub async fn start_in(dir: Arc<tempfile::TempDir>, mut config: Config) -> TestServer {
    show_server_warnings_on_failure();
    use_postgres_if_asked(&mut config).await;
    // Every suite can run its single node over a bus too, which checks that the bus keeps the
    // one-process behaviour (order, replay, slow consumers, revocation).
    if let (None, Ok(url)) = (&config.bus_url, std::env::var(ALL_ON_BUS_ENV)) {
        config.bus_url = Some(url);
        config.bus_prefix = format!("facegate-test-{:016x}", rand::random::<u64>());
    }
    let state = AppState::with_engine(config.clone(), engine())
        .await
        .expect("state");
    let server = serve::start(state).await.expect("start");
    TestServer {
        addr: server.addr,
        metrics_addr: server.metrics_addr,
        base: format!("http://{}", server.addr),
        dir,
        config,
        state: server.state,
        task: server.task,
    }
}

/// The harness prints what a test wrote only when it fails: with the server's warnings and
/// errors there, a 500 in a CI log names its cause. A suite that installed its own subscriber
/// first (logs_no_secrets) keeps it.
fn show_server_warnings_on_failure() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

impl TestServer {
    /// Starts a server with the default test configuration.
    pub async fn start() -> anyhow::Result<Self> {
        Ok(start(|_| {}).await)
    }

    /// Stops this server (in-memory state is gone, open sockets are closed) and starts a new
    /// one on the same data directory and configuration, as a restart would.
    pub async fn restart(self) -> anyhow::Result<Self> {
        let (dir, config) = self.stop().await;
        Ok(start_in(dir, config).await)
    }

    /// Stops serving and closes the chat sockets (the data directory stays).
    pub async fn stop(self) -> (Arc<tempfile::TempDir>, Config) {
        self.task.abort();
        self.state.chat.close_all();
        let dir = Arc::clone(&self.dir);
        let config = self.config.clone();
        drop(self);
        (dir, config)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        self.base.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The SQLite file (servers from [`start_sqlite`]).
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("facegate.db")
    }

    /// A second handle on this server's database, as a `facegate admin` process opens it.
    pub async fn second_db_handle(&self) -> server::storage::Db {
        server::app::open_database(&self.config)
            .await
            .expect("open the database")
    }

    /// A fresh [`Client`] (own cookie jar) for this server.
    pub fn client(&self) -> Client {
        Client::new(self.base())
    }
}

/// A client that keeps cookies, like a browser tab.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

/// An image upload part; the server sniffs the format from the bytes, not from the name.
fn image_part(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name("image.jpg")
        .mime_str("image/jpeg")
        .expect("mime")
}

/// The `POST /api/register` form for `username` (email `<username>@example.org`).
pub fn register_form(username: &str, password: &str, faces: Vec<Vec<u8>>) -> Form {
    let mut form = Form::new()
        .text("username", username.to_owned())
        .text("email", format!("{username}@example.org"))
        .text("full_name", format!("{username} Tester"))
        .text("password", password.to_owned())
        .text("consent", "true");
    for f in faces {
        form = form.part("face", image_part(f));
    }
    form
}

/// The `PUT /api/me/face` form: the password and the new enrolment photos.
pub fn reenrol_form(password: &str, faces: &[&str]) -> Form {
    let mut form = Form::new().text("password", password.to_owned());
    for name in faces {
        form = form.part("face", image_part(photo(name)));
    }
    form
}

/// The `POST /api/face/verify` form.
pub fn verify_form(challenge: &str, frames: Vec<Vec<u8>>) -> Form {
    let mut form = Form::new().text("challenge", challenge.to_owned());
    for f in frames {
        form = form.part("frame", image_part(f));
    }
    form
}

pub async fn register_with(
    s: &TestServer,
    c: &reqwest::Client,
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
pub async fn register(s: &TestServer, c: &reqwest::Client, username: &str, face: &str) {
    let r = register_with(s, c, username, vec![photo(face)]).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "register: {}",
        r.text().await.unwrap_or_default()
    );
}

pub async fn login_as(
    s: &TestServer,
    c: &reqwest::Client,
    login: &str,
    password: &str,
) -> Response {
    c.post(s.url("/api/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .expect("login request")
}

/// Logs in with the right password; panics unless 200.
pub async fn login(s: &TestServer, c: &reqwest::Client, username: &str) -> Response {
    let r = login_as(s, c, username, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    r
}

pub async fn challenge(s: &TestServer, c: &reqwest::Client) -> String {
    let r = c
        .post(s.url("/api/face/challenge"))
        .send()
        .await
        .expect("challenge request");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["expires_in"], 120);
    body["challenge"]
        .as_str()
        .expect("challenge string")
        .to_owned()
}

pub async fn verify_with(
    s: &TestServer,
    c: &reqwest::Client,
    challenge: &str,
    frames: Vec<Vec<u8>>,
) -> Response {
    c.post(s.url("/api/face/verify"))
        .multipart(verify_form(challenge, frames))
        .send()
        .await
        .expect("verify request")
}

/// Challenge + verify with the named photos.
pub async fn face_check(s: &TestServer, c: &reqwest::Client, frames: &[&str]) -> Response {
    let ch = challenge(s, c).await;
    verify_with(s, c, &ch, frames.iter().map(|f| photo(f)).collect()).await
}

/// Register, login and pass the face check with `face` / `frame`.
pub async fn full_session(
    s: &TestServer,
    username: &str,
    face: &str,
    frame: &str,
) -> reqwest::Client {
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

/// `PUT /api/me/face` with `password` and the named photos.
pub async fn reenrol(
    s: &TestServer,
    c: &reqwest::Client,
    password: &str,
    faces: &[&str],
) -> Response {
    c.put(s.url("/api/me/face"))
        .multipart(reenrol_form(password, faces))
        .send()
        .await
        .expect("re-enrol request")
}

/// `DELETE /api/me` with `password`.
pub async fn delete_account(s: &TestServer, c: &reqwest::Client, password: &str) -> Response {
    c.delete(s.url("/api/me"))
        .json(&json!({"password": password}))
        .send()
        .await
        .expect("delete request")
}

/// `POST path` with a JSON body and `c`'s session.
pub async fn post(s: &TestServer, c: &reqwest::Client, path: &str, body: Value) -> Response {
    c.post(s.url(path))
        .json(&body)
        .send()
        .await
        .expect("POST request")
}

/// `GET path` with `c`'s session, parsed as JSON (panics unless 200).
pub async fn get_json(s: &TestServer, c: &reqwest::Client, path: &str) -> Value {
    let r = c.get(s.url(path)).send().await.expect("GET request");
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.json().await.expect("json")
}

/// The `auth_level` `GET /api/me` reports for `c`'s session.
pub async fn auth_level(s: &TestServer, c: &reqwest::Client) -> Value {
    get_json(s, c, "/api/me").await["auth_level"].clone()
}

/// The kinds of the account's security events, newest first.
pub async fn event_kinds(s: &TestServer, c: &reqwest::Client) -> Vec<String> {
    get_json(s, c, "/api/me/security-events").await["events"]
        .as_array()
        .expect("events array")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

/// The status of a request sent with only the raw `cookie` (no jar), as a stolen cookie would.
pub async fn status_with_cookie(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
) -> StatusCode {
    reqwest::Client::new()
        .request(method, s.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request")
        .status()
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

/// The raw `Set-Cookie` header of a response.
pub fn raw_set_cookie(r: &Response) -> String {
    r.headers()
        .get("set-cookie")
        .expect("set-cookie")
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The `Retry-After` seconds of a response.
pub fn retry_after(r: &Response) -> u64 {
    r.headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

/// The `error.code` of a JSON error response.
pub async fn error_code(r: Response) -> String {
    let body: Value = r.json().await.expect("json error body");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
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
        let form = register_form(username, password, faces.iter().map(|f| photo(f)).collect());
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
        let form = verify_form(&challenge, frames.iter().map(|f| photo(f)).collect());
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
        self.socket(&format!("/api/ws{query}"), origin).await
    }

    /// Opens the WebSocket at `path` (with its query) with this client's cookie and the given
    /// `Origin` (None: no header).
    pub async fn socket(
        &self,
        path: &str,
        origin: Option<&str>,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let url = format!("{}{}", self.base.replacen("http://", "ws://", 1), path);
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
    let (status, user) = client.register(username, PASSWORD, enrol).await?;
    if status != StatusCode::CREATED {
        bail!("register {username}: {status} {user}");
    }
    let (status, body) = client.login(username, PASSWORD).await?;
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
    let (status, body) = client.register(username, PASSWORD, &[enrol]).await?;
    if status != StatusCode::CREATED {
        bail!("register {username}: {status} {body}");
    }
    let (status, body) = client.login(username, PASSWORD).await?;
    if status != StatusCode::OK {
        bail!("login {username}: {status} {body}");
    }
    Ok(client)
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

/// The text of the `/metrics` listener at `addr`, checked to be Prometheus's format.
pub async fn scrape_metrics(addr: std::net::SocketAddr) -> String {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("metrics text")
}

/// The value of the sample line that starts with `series` (name and labels), if present.
pub fn metric_sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
