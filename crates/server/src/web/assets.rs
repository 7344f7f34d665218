//! The files under `crates/server/web/`, compiled into the binary.
//!
//! Each file is listed by name and pulled in with `include_bytes!`, so cargo rebuilds the server
//! whenever one of them changes (a directory-embedding macro would miss edits on stable Rust).
//! A test checks that this list and the directory agree, so a new file cannot be forgotten.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path below `web/`, with `/` separators and no leading slash (`js/main.js`).
    pub path: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
        }),*]
    };
}

/// Every file of the web UI.
pub static ASSETS: &[Asset] = embed![
    "index.html",
    "app.css",
    "favicon.svg",
    "js/api.js",
    "js/chat-attachments.js",
    "js/chat-dialog.js",
    "js/chat-group.js",
    "js/chat-header-menu.js",
    "js/chat-markup.js",
    "js/chat-mentions.js",
    "js/chat-message-actions.js",
    "js/chat-model.js",
    "js/chat-notify.js",
    "js/chat-reactions.js",
    "js/chat-safety.js",
    "js/chat-search.js",
    "js/chat-switcher.js",
    "js/chat-thread.js",
    "js/chat-time.js",
    "js/chat-versions.js",
    "js/camera.js",
    "js/confirm.js",
    "js/dom.js",
    "js/errors.js",
    "js/layout.js",
    "js/live-check.js",
    "js/main.js",
    "js/second-step.js",
    "js/settings-security.js",
    "js/user-agent.js",
    "js/webauthn.js",
    "js/password.js",
    "js/socket.js",
    "js/pages/chat.js",
    "js/pages/email-link.js",
    "js/pages/face.js",
    "js/pages/login.js",
    "js/pages/register.js",
    "js/pages/settings.js",
];

/// The asset at `path` (no leading slash), if there is one.
pub fn find(path: &str) -> Option<(usize, &'static Asset)> {
    ASSETS.iter().enumerate().find(|(_, a)| a.path == path)
}

/// The `Content-Type` for a file name, by extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("web dir readable")
            .map(|e| e.expect("dir entry"))
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if entry.file_type().expect("file type").is_dir() {
                files_under(&entry.path(), &format!("{rel}/"), out);
            } else {
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_file_in_the_web_dir_is_embedded_and_nothing_else() {
        let mut on_disk = Vec::new();
        files_under(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("web"),
            "",
            &mut on_disk,
        );
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(listed, on_disk, "update the embed! list in web/assets.rs");
    }

    #[test]
    fn every_embedded_file_has_a_known_content_type() {
        for asset in ASSETS {
            assert_ne!(
                content_type(asset.path),
                "application/octet-stream",
                "{}",
                asset.path
            );
        }
    }
}
