//! `facegate admin backup FILE` and `facegate admin restore FILE`.
//!
//! A backup is a gzip'd tar of two entries: `manifest.json` ([`Manifest`]) and `facegate.db`, a
//! `VACUUM INTO` snapshot taken while the server runs. The server key (`secret.key`) is never
//! in it: the manifest says whether the database holds encrypted face templates, and so needs
//! the key, and names the key by a fingerprint. Keep the key apart from the backups (a backup
//! and its key together give the templates to whoever holds both).
//!
//! Restore writes only into an empty data directory (it may already hold the key), and only
//! after the key has opened one of the backup's templates.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{SecretKey, TemplateCipher};
use crate::storage::{Db, MIGRATOR};

/// The manifest's `format`.
pub const FORMAT: &str = "facegate-backup";
/// The manifest layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "facegate.db";
const KEY_FILE: &str = "secret.key";
/// Larger manifests are not ours: refused before they are read into memory.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What a backup holds, stored beside the database in the archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// Unix milliseconds of the snapshot.
    pub created_at: i64,
    /// The facegate version that wrote the backup.
    pub facegate_version: String,
    /// The newest migration applied to the database: a restore needs a build that knows it.
    pub schema_version: i64,
    /// SHA-256 of the `facegate.db` entry.
    pub database_sha256: String,
    /// Whether the database holds face templates encrypted under the server key.
    pub holds_encrypted_templates: bool,
    /// Row counts at the snapshot (users, face_templates, chat_channels, chat_messages,
    /// audit_events).
    pub counts: std::collections::BTreeMap<String, i64>,
    pub key: KeyNote,
}

/// Which server key the backup needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyNote {
    /// True when templates can only be used with the key.
    pub required: bool,
    /// Where the key belongs: `<data_dir>/secret.key`. It is not in the backup.
    pub file: String,
    /// [`SecretKey::fingerprint_sha256`] of the key at backup time, when there was one.
    pub fingerprint_sha256: Option<String>,
}

/// Why a backup or restore refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("{0} exists already: choose a new file name")]
    TargetExists(PathBuf),
    #[error(
        "{dir} is not empty (it holds {entry:?}): restore only into a new or empty data directory"
    )]
    NotEmpty { dir: PathBuf, entry: String },
    #[error("{0} is not a facegate backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("the backup's database does not match its manifest's SHA-256 (damaged file)")]
    Damaged,
    #[error("the backup is of schema version {backup}, newer than this build knows ({known}): restore with a newer facegate")]
    NewerSchema { backup: i64, known: i64 },
    #[error("the backup holds encrypted face templates and there is no server key at {0}: pass the key it was made with (--key)")]
    KeyMissing(PathBuf),
    #[error("the server key does not open the backup's face templates (template of user {user_id}): it is not the key this backup was made with")]
    WrongKey { user_id: i64 },
    #[error("{0} already holds a different server key than --key")]
    KeyConflict(PathBuf),
    #[error("server key: {0:#}")]
    Key(anyhow::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The newest migration this build applies.
pub fn known_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Writes a backup of the running database to `target` (refused if it exists). `key` is the
/// data directory's server key, when it has one; only its fingerprint is recorded.
pub async fn backup(
    db: &Db,
    key: Option<&SecretKey>,
    target: &Path,
    now_ms: i64,
) -> Result<Manifest, BackupError> {
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_path_buf()));
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Staged beside the target, so the final rename stays on one file system and a failed
    // backup leaves no half-written FILE.
    let staging = tempfile::Builder::new()
        .prefix(".facegate-backup-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let snapshot = staging.path().join(DATABASE);
    db.snapshot_into(&snapshot).await?;
    let manifest = describe(&snapshot, key, now_ms).await?;
    let archive = staging.path().join("backup.tar.gz");
    write_archive(&archive, &manifest, &snapshot)?;
    std::fs::hard_link(&archive, target).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::TargetExists(target.to_path_buf()),
        _ => io(target)(e),
    })?;
    Ok(manifest)
}

async fn describe(
    snapshot: &Path,
    key: Option<&SecretKey>,
    now_ms: i64,
) -> Result<Manifest, BackupError> {
    let db = Db::open_snapshot(snapshot).await?;
    let counts: std::collections::BTreeMap<String, i64> = db
        .table_counts()
        .await?
        .into_iter()
        .map(|(t, n)| (t.to_owned(), n))
        .collect();
    let schema_version = db.schema_version().await?;
    db.pool().close().await;
    let holds_templates = counts.get("face_templates").is_some_and(|n| *n > 0);
    Ok(Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        created_at: now_ms,
        facegate_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        database_sha256: sha256_file(snapshot)?,
        holds_encrypted_templates: holds_templates,
        counts,
        key: KeyNote {
            required: holds_templates,
            file: KEY_FILE.into(),
            fingerprint_sha256: key.map(SecretKey::fingerprint_sha256),
        },
    })
}

fn write_archive(archive: &Path, manifest: &Manifest, database: &Path) -> Result<(), BackupError> {
    let file = create_private(archive)?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, flate2::Compression::default()));
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| io(archive)(e.into()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(manifest.created_at / 1000).unwrap_or(0));
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, json.as_slice())
        .map_err(io(archive))?;
    let mut db_file = std::fs::File::open(database).map_err(io(database))?;
    tar.append_file(DATABASE, &mut db_file)
        .map_err(io(archive))?;
    let gz = tar.into_inner().map_err(io(archive))?;
    let file = gz.finish().map_err(io(archive))?;
    file.sync_all().map_err(io(archive))
}

fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// What a restore put in place.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Whether one template of the backup was opened with the key (false: it holds none).
    pub key_checked: bool,
}

/// Restores `archive` into `data_dir`, which must be missing or empty but for `secret.key`.
/// `key_file` (the key the backup was made with) is copied there when given. Nothing is left
/// in `data_dir` when the restore is refused.
pub async fn restore(
    archive: &Path,
    data_dir: &Path,
    key_file: Option<&Path>,
) -> Result<Restored, BackupError> {
    check_empty(data_dir)?;
    let target_key = data_dir.join(KEY_FILE);
    let key = restore_key(key_file, &target_key)?;
    let created_dir = !data_dir.exists();
    let mut placed = Placed::new(data_dir, created_dir);
    crate::storage::create_private_dir(data_dir).map_err(io(data_dir))?;
    let staged = data_dir.join(".facegate.db.restoring");
    placed.files.push(staged.clone());
    let manifest = unpack(archive, &staged)?;
    if manifest.schema_version > known_schema_version() {
        return Err(BackupError::NewerSchema {
            backup: manifest.schema_version,
            known: known_schema_version(),
        });
    }
    let key_checked = check_key(&staged, key.as_ref(), &target_key).await?;
    if let (Some(from), false) = (key_file, target_key.exists()) {
        placed.files.push(target_key.clone());
        copy_key(from, &target_key)?;
    }
    let database = data_dir.join(DATABASE);
    std::fs::rename(&staged, &database).map_err(io(&database))?;
    placed.files.push(database.clone());
    // Applies the migrations a backup of an older build lacks.
    Db::open(&database).await?.pool().close().await;
    placed.keep();
    Ok(Restored {
        manifest,
        key_checked,
    })
}

/// Removes what a refused restore created (files, and the directory when it made it).
struct Placed {
    dir: PathBuf,
    created_dir: bool,
    files: Vec<PathBuf>,
    keep: bool,
}

impl Placed {
    fn new(dir: &Path, created_dir: bool) -> Self {
        Self {
            dir: dir.to_path_buf(),
            created_dir,
            files: Vec::new(),
            keep: false,
        }
    }

    fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for f in &self.files {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = f.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
        if self.created_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

fn check_empty(dir: &Path) -> Result<(), BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let name = entry.map_err(io(dir))?.file_name();
        if name != KEY_FILE {
            return Err(BackupError::NotEmpty {
                dir: dir.to_path_buf(),
                entry: name.to_string_lossy().into_owned(),
            });
        }
    }
    Ok(())
}

fn load_key(path: &Path) -> Result<Option<SecretKey>, BackupError> {
    SecretKey::load_existing(path).map_err(BackupError::Key)
}

/// The key a restore checks with: `--key` when given (it must exist, and the directory must
/// not already hold another key), else the one already in the directory, if any.
fn restore_key(key_file: Option<&Path>, in_dir: &Path) -> Result<Option<SecretKey>, BackupError> {
    let present = load_key(in_dir)?;
    let Some(file) = key_file else {
        return Ok(present);
    };
    let given = load_key(file)?.ok_or_else(|| BackupError::KeyMissing(file.to_path_buf()))?;
    if present.is_some_and(|p| p.fingerprint_sha256() != given.fingerprint_sha256()) {
        return Err(BackupError::KeyConflict(in_dir.to_path_buf()));
    }
    Ok(Some(given))
}

/// Reads the manifest and writes the database entry to `staged`, checking its SHA-256. Only
/// the two known entry names are accepted (no path from the archive is ever written to).
fn unpack(archive: &Path, staged: &Path) -> Result<Manifest, BackupError> {
    let not_ours = |why: String| BackupError::NotABackup(archive.to_path_buf(), why);
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let (mut manifest, mut digest) = (None, None);
    for entry in tar.entries().map_err(|e| not_ours(e.to_string()))? {
        let mut entry = entry.map_err(|e| not_ours(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| not_ours(e.to_string()))?
            .into_owned();
        if name == Path::new(MANIFEST) {
            if entry.size() > MAX_MANIFEST_BYTES {
                return Err(not_ours("manifest too large".into()));
            }
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(io(archive))?;
            let parsed: Manifest =
                serde_json::from_slice(&text).map_err(|e| not_ours(format!("manifest: {e}")))?;
            if parsed.format != FORMAT || parsed.format_version != FORMAT_VERSION {
                return Err(not_ours(format!(
                    "format {} version {}, expected {FORMAT} version {FORMAT_VERSION}",
                    parsed.format, parsed.format_version
                )));
            }
            manifest = Some(parsed);
        } else if name == Path::new(DATABASE) {
            digest = Some(copy_hashed(&mut entry, staged)?);
        } else {
            return Err(not_ours(format!("unexpected entry {}", name.display())));
        }
    }
    let manifest = manifest.ok_or_else(|| not_ours("no manifest.json".into()))?;
    match digest {
        None => Err(not_ours("no facegate.db".into())),
        Some(d) if d != manifest.database_sha256 => Err(BackupError::Damaged),
        Some(_) => Ok(manifest),
    }
}

fn copy_hashed(from: &mut impl Read, to: &Path) -> Result<String, BackupError> {
    let mut out = create_private(to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).map_err(io(to))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io(to))?;
    }
    out.sync_all().map_err(io(to))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Opens the oldest template of the restored database with `key`. The manifest's fingerprint
/// is only a hint: opening a real template is what proves the key.
async fn check_key(
    staged: &Path,
    key: Option<&SecretKey>,
    key_path: &Path,
) -> Result<bool, BackupError> {
    let db = Db::open_snapshot(staged).await?;
    let first = db.first_template().await;
    db.pool().close().await;
    let Some(template) = first? else {
        return Ok(false);
    };
    let key = key.ok_or_else(|| BackupError::KeyMissing(key_path.to_path_buf()))?;
    TemplateCipher::new(key)
        .open(template.user_id, &template.sealed)
        .map_err(|e| BackupError::WrongKey { user_id: e.user_id })?;
    Ok(true)
}

fn copy_key(from: &Path, to: &Path) -> Result<(), BackupError> {
    let bytes = std::fs::read(from).map_err(io(from))?;
    let mut file = create_private(to)?;
    file.write_all(&bytes).map_err(io(to))?;
    file.sync_all().map_err(io(to))
}

/// A new file readable by its owner only (a backup holds personal data; the key is the key).
fn create_private(path: &Path) -> Result<std::fs::File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io(path))
}
