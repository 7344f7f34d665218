//! Peak memory of the server under large-image load (issue 13, "bounded memory").
//!
//! Starts `target/release/facegate serve` as a child process (its own memory only, no client in
//! it) with liveness off, signs in one user per client, then sends `--clients` (6) concurrent
//! `POST /api/face/verify` requests of `--frames` (5) PNGs of 5000x5000 pixels (25 MP: a face
//! on a flat background, so each file stays under the 5 MiB image limit) and prints the server's
//! peak resident memory (`VmHWM`) and the answers (`200/401` checked, `503` refused by the pixel
//! budget).
//!
//! ```text
//! cargo run --release -p facegate-server --example load_memory -- [--clients 6] [--frames 5]
//! ```

use std::io::{BufRead, BufReader, Cursor};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use reqwest::multipart::{Form, Part};

const PASSWORD: &str = "benchmark passphrase 2026";

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args.get(i + 1).context("missing value")?.parse()?),
        None => Ok(default),
    }
}

/// A 5000x5000 PNG: the photo's face in the middle of a flat grey canvas.
fn big_png(photo: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let face = image::open(photo)?.to_rgb8();
    let mut canvas = image::RgbImage::from_pixel(5000, 5000, image::Rgb([128, 128, 128]));
    image::imageops::replace(&mut canvas, &face, 2000, 2000);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(canvas)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients = arg("--clients", 6)?;
    let frames = arg("--frames", 5)?;
    let data = tempfile::tempdir()?;
    let mut child = Command::new(repo_path("target/release/facegate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("FACEGATE_FACE_LIVENESS", "off")
        .env("FACEGATE_RATE_LIMIT_REGISTER_BURST", "1000")
        .env("FACEGATE_RATE_LIMIT_LOGIN_BURST", "1000")
        .env("FACEGATE_RATE_LIMIT_FACE_BURST", "1000")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting target/release/facegate (cargo build --release -p facegate)")?;
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let base = loop {
        let line = lines.next().context("server exited")??;
        if let Some(addr) = line.strip_prefix("facegate listening on ") {
            break addr.to_owned();
        }
    };
    let faces = std::env::var_os("FACEGATE_FACES")
        .map_or_else(|| repo_path("../shared/faces"), PathBuf::from);
    let png = big_png(&faces.join("obama_2.jpg"))?;
    println!(
        "{clients} clients x {frames} PNGs of 5000x5000 ({:.1} MiB each)",
        png.len() as f64 / 1048576.0
    );
    let mut sessions = Vec::new();
    for i in 0..clients {
        let http = reqwest::Client::builder().cookie_store(true).build()?;
        let form = Form::new()
            .text("username", format!("mem{i}"))
            .text("email", format!("mem{i}@example.org"))
            .text("full_name", "Memory Bench")
            .text("password", PASSWORD)
            .text("consent", "true")
            .part(
                "face",
                Part::bytes(std::fs::read(faces.join("obama_1.jpg"))?).file_name("f.jpg"),
            );
        let r = http
            .post(format!("{base}/api/register"))
            .multipart(form)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("register: {} {}", r.status(), r.text().await?);
        }
        let r = http
            .post(format!("{base}/api/login"))
            .json(&serde_json::json!({ "login": format!("mem{i}"), "password": PASSWORD }))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("login: {}", r.status());
        }
        sessions.push(http);
    }
    let idle = peak_rss_kib(pid)?;
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|http| {
            let (base, png) = (base.clone(), png.clone());
            tokio::spawn(async move {
                let challenge: serde_json::Value = http
                    .post(format!("{base}/api/face/challenge"))
                    .header("origin", &base)
                    .send()
                    .await?
                    .json()
                    .await?;
                let mut form = Form::new().text(
                    "challenge",
                    challenge["challenge"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                for i in 0..frames {
                    form = form.part(
                        "frame",
                        Part::bytes(png.clone()).file_name(format!("{i}.png")),
                    );
                }
                let r = http
                    .post(format!("{base}/api/face/verify"))
                    .header("origin", &base)
                    .multipart(form)
                    .send()
                    .await?;
                anyhow::Ok(r.status().as_u16())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await??);
    }
    let peak = peak_rss_kib(pid)?;
    child.kill().ok();
    println!("answers: {statuses:?} (503 = refused by the pixel budget, retry later)");
    println!(
        "server peak RSS: {:.0} MiB (after sign-ins, before the load: {:.0} MiB; target < 400 MB)",
        peak as f64 / 1024.0,
        idle as f64 / 1024.0
    );
    Ok(())
}
