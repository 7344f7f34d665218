//! A client of the live face check, as `docs/live-check.md` describes it: register, log in with
//! the password, open `GET /api/face/live?purpose=verify` with the session cookie and the
//! server's own `Origin`, stream one frame at a time (wait for its answer, at least 100 ms
//! between frames), pass prompts to the [`Presenter`], collect the `result`, and finish a
//! passed check with `POST /api/face/live/finish`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::species::{Presenter, Recording};
use crate::user::Action;

/// The password of every evaluation account.
pub const PASSWORD: &str = "liveness evaluation passphrase 7";

/// Registers `username` with one enrolment photo (`POST /api/register`).
pub async fn register(base: &str, username: &str, photo: Vec<u8>) -> anyhow::Result<()> {
    let part = reqwest::multipart::Part::bytes(photo)
        .file_name("face.jpg")
        .mime_str("image/jpeg")?;
    let form = reqwest::multipart::Form::new()
        .text("username", username.to_owned())
        .text("email", format!("{username}@example.org"))
        .text("full_name", format!("{username} (liveness evaluation)"))
        .text("password", PASSWORD)
        .text("consent", "true")
        .part("face", part);
    let r = reqwest::Client::new()
        .post(format!("{base}/api/register"))
        .header("origin", base)
        .multipart(form)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("register {username}: {} {}", r.status(), r.text().await?);
    }
    Ok(())
}

/// A browser-like session: a client that keeps its cookies.
pub struct Session {
    base: String,
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Session {
    /// `POST /api/login` with the evaluation password: a session at level `password`.
    pub async fn login(base: &str, username: &str) -> anyhow::Result<Self> {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .build()?;
        let r = client
            .post(format!("{base}/api/login"))
            .header("origin", base)
            .json(&json!({"login": username, "password": PASSWORD}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("login {username}: {} {}", r.status(), r.text().await?);
        }
        Ok(Self {
            base: base.to_owned(),
            client,
            jar,
        })
    }

    fn cookie(&self) -> Option<HeaderValue> {
        let url = self.base.parse().ok()?;
        let v = self.jar.cookies(&url)?;
        HeaderValue::from_bytes(v.as_bytes()).ok()
    }

    /// `POST /api/face/live/finish`: the new session's level (`full` when it worked).
    pub async fn finish(&self, ticket: &str) -> anyhow::Result<String> {
        let r = self
            .client
            .post(format!("{}/api/face/live/finish", self.base))
            .header("origin", &self.base)
            .json(&json!({ "ticket": ticket }))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("finish: {status} {body}");
        }
        Ok(body["level"].as_str().unwrap_or("").to_owned())
    }
}

/// How a client paces its frames.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Time between the starts of two frames (at least 100 ms by the protocol).
    pub interval: Duration,
    /// The client gives up (sends `cancel`) after this long.
    pub give_up: Duration,
    /// Keep every frame sent (for replay attacks).
    pub record: bool,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(115),
            give_up: Duration::from_secs(75),
            record: false,
        }
    }
}

/// What one live check came to.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// `passed`, `failed`, or `refused` (the upgrade was answered with an HTTP error) / `broken`
    /// (the socket closed without a result).
    pub outcome: String,
    pub code: Option<String>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub prompts: Vec<String>,
    /// When each prompt arrived, seconds since `ready`.
    pub prompt_times: Vec<f64>,
    pub steps_passed: usize,
    /// Frame-to-answer latencies, milliseconds.
    pub latencies_ms: Vec<f64>,
    pub recording: Recording,
    pub frames_sent: usize,
    pub guidance: Vec<String>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.outcome == "passed"
    }

    /// A short label of why the check ended as it did (`passed`, `face_mismatch`,
    /// `liveness_failed/step_missed`, ...).
    pub fn label(&self) -> String {
        match (&self.code, &self.reason) {
            _ if self.passed() => "passed".to_owned(),
            (Some(c), Some(r)) if !r.is_empty() => format!("{c}/{r}"),
            (Some(c), _) => c.clone(),
            _ => self.outcome.clone(),
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs one live check (`purpose=verify`) with `presenter` in front of the camera.
pub async fn live_check(
    session: &Session,
    presenter: &mut dyn Presenter,
    pacing: Pacing,
) -> anyhow::Result<CheckReport> {
    let ws_base = session.base.replacen("http://", "ws://", 1);
    let mut request = format!("{ws_base}/api/face/live?purpose=verify").into_client_request()?;
    let headers = request.headers_mut();
    headers.insert("origin", HeaderValue::from_str(&session.base)?);
    if let Some(cookie) = session.cookie() {
        headers.insert("cookie", cookie);
    }
    let mut ws = match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            return Ok(refused(response.status().as_u16(), response.body()));
        }
        Err(e) => return Err(e).context("opening /api/face/live"),
    };
    let mut report = CheckReport::default();
    let ready = wait_ready(&mut ws).await?;
    stream_frames(&mut ws, presenter, pacing, ready, &mut report).await?;
    Ok(report)
}

/// The report of an upgrade answered with an HTTP error (`{"error": {"code": ..}}`).
fn refused(status: u16, body: &Option<Vec<u8>>) -> CheckReport {
    let code = body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("http_{status}"));
    CheckReport {
        outcome: "refused".to_owned(),
        code: Some(code),
        ..CheckReport::default()
    }
}

async fn wait_ready(ws: &mut Socket) -> anyhow::Result<Instant> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .context("no `ready` within 20 s")?
            .context("socket closed before `ready`")??;
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text)?;
            if v["type"] == "ready" {
                return Ok(Instant::now());
            }
            if v["type"] == "result" {
                bail!("result before ready: {v}");
            }
        }
    }
}

/// The frame loop: one frame, its answer (handling prompts and the result meanwhile), pause.
async fn stream_frames(
    ws: &mut Socket,
    presenter: &mut dyn Presenter,
    pacing: Pacing,
    ready: Instant,
    report: &mut CheckReport,
) -> anyhow::Result<()> {
    let mut cancelled = false;
    loop {
        let sent_at = Instant::now();
        let t = sent_at.duration_since(ready).as_secs_f64();
        if !cancelled && sent_at.duration_since(ready) > pacing.give_up {
            ws.send(Message::text(r#"{"type":"cancel"}"#)).await?;
            cancelled = true;
        }
        if !cancelled {
            let frame = presenter.frame(t)?;
            if pacing.record {
                report.recording.frames.push((t, frame.clone()));
            }
            ws.send(Message::binary(frame)).await?;
            report.frames_sent += 1;
        }
        if read_until_answer(ws, presenter, ready, sent_at, report).await? {
            return Ok(());
        }
        let next = sent_at + pacing.interval;
        tokio::time::sleep_until(next.into()).await;
    }
}

/// Reads messages until the answer of the frame sent at `sent_at` (false) or the `result` or the
/// end of the socket (true).
async fn read_until_answer(
    ws: &mut Socket,
    presenter: &mut dyn Presenter,
    ready: Instant,
    sent_at: Instant,
    report: &mut CheckReport,
) -> anyhow::Result<bool> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("no answer within 30 s")?;
        let text = match next {
            None | Some(Ok(Message::Close(_))) | Some(Err(_)) => {
                report.outcome = "broken".to_owned();
                return Ok(true);
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
        };
        let v: Value = serde_json::from_str(&text)?;
        match v["type"].as_str().unwrap_or("") {
            "frame" => {
                report
                    .latencies_ms
                    .push(sent_at.elapsed().as_secs_f64() * 1000.0);
                if let Some(g) = v["guidance"].as_str() {
                    report.guidance.push(g.to_owned());
                }
                return Ok(false);
            }
            "prompt" => {
                let action = v["action"].as_str().unwrap_or("");
                let t = ready.elapsed().as_secs_f64();
                report.prompts.push(action.to_owned());
                report.prompt_times.push(t);
                if let Some(a) = Action::parse(action) {
                    presenter.prompt(a, t);
                }
            }
            "step" if v["passed"] == true => report.steps_passed += 1,
            "result" => {
                read_result(&v, report);
                return Ok(true);
            }
            _ => {}
        }
    }
}

fn read_result(v: &Value, report: &mut CheckReport) {
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    report.outcome = text("outcome").unwrap_or_else(|| "unknown".to_owned());
    report.code = text("code");
    report.reason = text("reason");
    report.ticket = text("ticket");
}
