//! The `facegate` binary as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn facegate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models_dir() -> PathBuf {
    std::env::var_os("FACEGATE_MODELS").map_or_else(|| repo_root().join("models"), PathBuf::from)
}

fn shared_face(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED_FACES")
        .map_or_else(|| repo_root().join("../shared/faces"), PathBuf::from);
    let path = dir.join(name);
    // A missing fixture fails the test: it must never pass by doing nothing.
    assert!(
        path.is_file(),
        "{} not found (set FACEGATE_SHARED_FACES)",
        path.display()
    );
    Some(path)
}

#[test]
fn face_commands_without_models_name_the_fetch_command() {
    let empty = tempfile::tempdir().expect("tmp");
    let out = facegate()
        .args(["face", "detect", "--models"])
        .arg(empty.path())
        .arg(models_dir().join("sample1.jpg"))
        .output()
        .expect("run facegate");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("facegate models fetch"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn describe_refuses_a_text_file_without_panicking() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "not an image").expect("write");
    let out = facegate()
        .args(["face", "describe", "--models"])
        .arg(models_dir())
        .arg(&text)
        .output()
        .expect("run facegate");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a supported image"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn compare_tells_same_person_from_different_people() {
    let (Some(obama1), Some(obama2), Some(biden)) = (
        shared_face("obama_1.jpg"),
        shared_face("obama_2.jpg"),
        shared_face("biden_1.jpg"),
    ) else {
        return;
    };
    let compare = |a: &PathBuf, b: &PathBuf| -> serde_json::Value {
        let out = facegate()
            .args(["face", "compare", "--json", "--models"])
            .arg(models_dir())
            .arg(a)
            .arg(b)
            .output()
            .expect("run facegate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    };
    let same = compare(&obama1, &obama2);
    assert_eq!(same["match"], true, "{same}");
    assert!(same["distance"].as_f64().expect("distance") < 0.5, "{same}");
    let different = compare(&obama1, &biden);
    assert_eq!(different["match"], false, "{different}");
    assert!(
        different["distance"].as_f64().expect("distance") > 0.6,
        "{different}"
    );
}

#[test]
fn models_fetch_is_a_no_op_when_models_are_present() {
    let out = facegate()
        .args(["models", "fetch", "--dir"])
        .arg(models_dir())
        .output()
        .expect("run facegate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("complete and verified"));
}

#[test]
fn closing_stdout_early_ends_quietly() {
    // `facegate face detect ... | head -1`: the reader goes away before the output is written.
    let sample = models_dir().join("sample1.jpg");
    let mut child = facegate()
        .args(["face", "detect", "--models"])
        .arg(models_dir())
        .args(std::iter::repeat_n(&sample, 8))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run facegate");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}, stderr: {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn a_threshold_that_is_not_a_distance_is_refused() {
    let sample = models_dir().join("sample1.jpg");
    for bad in ["nan", "-1", "3", "inf"] {
        let out = facegate()
            .args(["face", "compare", &format!("--threshold={bad}")])
            .arg(&sample)
            .arg(&sample)
            .output()
            .expect("run facegate");
        assert!(!out.status.success(), "--threshold {bad} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not a distance between 0 and 2"),
            "{bad}: {stderr}"
        );
    }
}

#[test]
fn errors_are_one_line_without_a_backtrace() {
    let out = facegate()
        .env("RUST_BACKTRACE", "1")
        .args(["admin", "--data-dir", "/nonexistent/facegate-data", "users"])
        .output()
        .expect("run facegate");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: no database at"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("Stack backtrace"), "stderr: {stderr}");
}
