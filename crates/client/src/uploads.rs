//! Uploading a project's audio and footage with tus 1.0. Invariants:
//! - the file is probed and hashed here first (audio decoded, footage read by ffprobe): what is
//!   not what it is sent as is refused before a byte is sent;
//! - where each upload stands is kept in the mirror (`uploads`), updated after every chunk the
//!   server confirmed, so an upload resumes after a dropped network or a restart from the
//!   server's offset, re-sending at most the chunk that was in flight;
//! - uploads never hold up the sync of metadata: they run after it, on their own.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::Utc;
use reqwest::Method;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::Digest;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::http::Payload;
use crate::mirror::Mirror;
use crate::session::Session;
pub use resonance_api::footage::UploadPurpose;
pub use resonance_api::uploads::{UploadPhase, UploadState};

/// Bytes in an upload's first PATCH; the next ones follow the link (see `ChunkSize`).
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;
/// The smallest chunk a slow link is given (a fixed size may go down to 64 KiB).
const MIN_CHUNK_BYTES: usize = 1 << 20;
/// The largest chunk: what the server takes in one PATCH.
const MAX_CHUNK_BYTES: usize = 64 << 20;
/// How long a chunk should take on the wire: progress every second or so, and little to send
/// again after a cut.
const CHUNK_SECONDS: f64 = 1.0;
/// Failed sends of one chunk (offline, 5xx) before the upload is left for later.
const ATTEMPTS: u32 = 5;

/// How many bytes the next PATCH carries.
///
/// Every chunk costs the server a claim, a commit and an object, and the client a round trip and
/// a save: on a fast link 4 MiB chunks spend a quarter of the time on that. So the size follows
/// the link: each chunk is sized to take about [`CHUNK_SECONDS`] at the rate the last one went,
/// at most doubling from one chunk to the next and halving after a failed send, within
/// 1 MiB..64 MiB. `RESONANCE_UPLOAD_CHUNK_BYTES` fixes the size instead (64 KiB..64 MiB).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ChunkSize {
    bytes: usize,
    fixed: bool,
}

impl ChunkSize {
    fn from_env() -> Self {
        match std::env::var("RESONANCE_UPLOAD_CHUNK_BYTES").ok().and_then(|v| v.parse::<usize>().ok()) {
            Some(n) => Self { bytes: n.clamp(64 << 10, MAX_CHUNK_BYTES), fixed: true },
            None => Self { bytes: DEFAULT_CHUNK_BYTES, fixed: false },
        }
    }

    fn next(self) -> usize {
        self.bytes
    }

    /// A chunk of `len` bytes was confirmed `took` after it was sent.
    fn sent(&mut self, len: usize, took: std::time::Duration) {
        // A short last piece says little about the link.
        if self.fixed || len < self.bytes / 2 {
            return;
        }
        let rate = len as f64 / took.as_secs_f64().max(1e-3);
        let wanted = (rate * CHUNK_SECONDS) as usize;
        self.bytes = wanted.clamp(MIN_CHUNK_BYTES, self.bytes.saturating_mul(2).min(MAX_CHUNK_BYTES));
    }

    /// A send failed on the way (offline, a timeout, a 5xx).
    fn failed(&mut self) {
        if !self.fixed {
            self.bytes = (self.bytes / 2).max(MIN_CHUNK_BYTES);
        }
    }
}

/// An upload as the mirror keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Upload {
    pub id: Uuid,
    pub project_id: Uuid,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub offset: u64,
    pub state: UploadState,
    pub last_error: Option<String>,
    /// The project's track, or its footage.
    pub purpose: UploadPurpose,
    upload_url: Option<String>,
}

/// Progress of one upload, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Progress {
    pub sent: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// Stopped on request; it resumes from where it stands.
    Paused,
    /// Left for later: the server cannot be reached (or failed) right now.
    Waiting,
}

/// A row of `uploads` as stored: id, project, path, sha256, size, offset, state, error, URL, purpose.
type RawUpload = (String, String, String, String, i64, i64, String, Option<String>, Option<String>, String);

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawUpload> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

const COLUMNS: &str = "id, project_id, path, sha256, size, offset, state, last_error, upload_url, purpose";

fn to_upload(raw: RawUpload) -> Result<Upload> {
    let (id, project, path, sha256, size, offset, state, last_error, upload_url, purpose) = raw;
    let bad = || ClientError::Corrupt(format!("upload {id}: unreadable row"));
    Ok(Upload {
        id: Uuid::parse_str(&id).map_err(|_| bad())?,
        project_id: Uuid::parse_str(&project).map_err(|_| bad())?,
        path: PathBuf::from(path),
        sha256,
        size: u64::try_from(size).map_err(|_| bad())?,
        offset: u64::try_from(offset).map_err(|_| bad())?,
        state: state.parse().map_err(|_| bad())?,
        last_error,
        purpose: UploadPurpose::parse(&purpose).ok_or_else(bad)?,
        upload_url,
    })
}

pub fn get(mirror: &Mirror, id: Uuid) -> Result<Upload> {
    let raw = mirror
        .lock()
        .query_row(&format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"), params![id.to_string()], read)
        .optional()?
        .ok_or_else(|| ClientError::NotFound { what: "upload", id: id.to_string() })?;
    to_upload(raw)
}

/// Uploads not finished yet, oldest first.
pub fn unfinished(mirror: &Mirror) -> Result<Vec<Upload>> {
    let conn = mirror.lock();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM uploads WHERE state IN ('pending', 'paused') ORDER BY created_at"
    ))?;
    let rows = stmt.query_map([], read)?;
    let mut out = Vec::new();
    for raw in rows {
        out.push(to_upload(raw?)?);
    }
    Ok(out)
}

/// The file on this computer that holds the project's audio, to preview it: that of the newest
/// audio upload not cancelled, if the file is still there (footage is never the track). `None` when the project's audio was never
/// sent from this computer or its file has gone.
pub fn local_track(mirror: &Mirror, project: Uuid) -> Result<Option<PathBuf>> {
    let conn = mirror.lock();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM uploads WHERE project_id = ?1 AND purpose = 'audio' AND last_error IS NOT 'cancelled'
         ORDER BY created_at DESC LIMIT 1"
    ))?;
    let newest = stmt.query_map(params![project.to_string()], read)?.next().transpose()?;
    match newest {
        Some(raw) => {
            let up = to_upload(raw)?;
            Ok(up.path.is_file().then_some(up.path))
        }
        None => Ok(None),
    }
}

/// Decodes and hashes `path`: what is not audio is refused here, before anything is sent.
pub fn probe(path: &Path) -> Result<resonance_audio::Facts> {
    resonance_audio::probe(path, &mut []).map_err(|e| ClientError::not_audio(path, e))
}

/// Records the upload of `path` (already probed; `sha256` is its hash) for `project`, or finds
/// the unfinished upload of the same bytes for the same purpose, to resume that one.
pub fn record(mirror: &Mirror, project: Uuid, path: &Path, sha256: &str, purpose: UploadPurpose) -> Result<Upload> {
    let size = std::fs::metadata(path)?.len();
    let path = path.canonicalize()?;
    let existing = mirror
        .lock()
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM uploads WHERE project_id = ?1 AND sha256 = ?2 AND purpose = ?3
                   AND state IN ('pending', 'paused')"
            ),
            params![project.to_string(), sha256, purpose.as_str()],
            read,
        )
        .optional()?;
    if let Some(raw) = existing {
        return to_upload(raw);
    }
    let id = Uuid::new_v4();
    let now = Utc::now().to_rfc3339();
    mirror.lock().execute(
        "INSERT INTO uploads (id, project_id, path, sha256, size, offset, state, created_at, updated_at, purpose)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 'pending', ?6, ?6, ?7)",
        params![
            id.to_string(),
            project.to_string(),
            path.display().to_string(),
            sha256,
            size as i64,
            now,
            purpose.as_str()
        ],
    )?;
    get(mirror, id)
}

/// Marks a pending upload paused (one waiting its turn, the project or the network): it stays
/// so across restarts until resumed. An upload in any other state is left as it is.
pub fn mark_paused(mirror: &Mirror, id: Uuid) -> Result<Upload> {
    mirror.lock().execute(
        "UPDATE uploads SET state = 'paused', updated_at = ?2 WHERE id = ?1 AND state = 'pending'",
        params![id.to_string(), Utc::now().to_rfc3339()],
    )?;
    get(mirror, id)
}

/// Marks a paused upload pending again (one stopped without its creator asking: it resumes at
/// the next start). An upload in any other state is left as it is.
pub fn unpause(mirror: &Mirror, id: Uuid) -> Result<()> {
    mirror.lock().execute(
        "UPDATE uploads SET state = 'pending', updated_at = ?2 WHERE id = ?1 AND state = 'paused'",
        params![id.to_string(), Utc::now().to_rfc3339()],
    )?;
    Ok(())
}

/// Cancels an upload: the server forgets what it received, and it will not resume.
pub async fn cancel(session: &Session, mirror: &Mirror, id: Uuid) -> Result<()> {
    let up = get(mirror, id)?;
    if let Some(url) = &up.upload_url {
        match session.request_with(Method::DELETE, url, Payload::None, &tus_headers(), None).await {
            Ok(_) | Err(ClientError::Refused { status: 404 | 410, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    save(mirror, id, up.offset, up.upload_url.as_deref(), UploadState::Failed, Some("cancelled"))
}

fn save(
    mirror: &Mirror,
    id: Uuid,
    offset: u64,
    url: Option<&str>,
    state: UploadState,
    error: Option<&str>,
) -> Result<()> {
    mirror.lock().execute(
        // A finished upload (done, failed, canceled) is never written again: a run that ends
        // after a cancel does not bring it back.
        "UPDATE uploads SET offset = ?2, upload_url = ?3, state = ?4, last_error = ?5, updated_at = ?6
         WHERE id = ?1 AND state IN ('pending', 'paused')",
        params![id.to_string(), offset as i64, url, state.as_str(), error, Utc::now().to_rfc3339()],
    )?;
    Ok(())
}

fn tus_headers() -> Vec<(&'static str, String)> {
    vec![("Tus-Resumable", "1.0.0".to_owned())]
}

fn header_number(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// Where the server stands on this upload; `None` when it no longer knows it (expired,
/// cancelled), so the upload starts over.
async fn server_offset(session: &Session, url: &str) -> Result<Option<u64>> {
    match session.request_with(Method::HEAD, url, Payload::None, &tus_headers(), None).await {
        Ok(resp) => Ok(header_number(&resp, "upload-offset")),
        Err(ClientError::Refused { status: 404 | 410, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the upload on the server (tus creation, with the file's SHA-256); its URL.
async fn create(session: &Session, up: &Upload) -> Result<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let name = up.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut headers = tus_headers();
    headers.push(("Upload-Length", up.size.to_string()));
    headers.push((
        "Upload-Metadata",
        format!(
            "project_id {},filename {},sha256 {},purpose {}",
            b64(&up.project_id.to_string()),
            b64(&name),
            b64(&up.sha256),
            b64(up.purpose.as_str())
        ),
    ));
    let resp = session.request_with(Method::POST, "/v1/uploads", Payload::None, &headers, None).await?;
    let location =
        resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned).ok_or_else(|| {
            ClientError::Server { status: 201, message: "the upload was created without a Location".into() }
        })?;
    Ok(location)
}

fn read_chunk(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// Sends the upload from where the server stands until it is done, paused (`pause` set to
/// true), or left for later (the server unreachable). Refusals are errors, and mark it failed.
pub async fn run(
    session: &Session,
    mirror: &Mirror,
    id: Uuid,
    pause: &watch::Receiver<bool>,
    mut progress: impl FnMut(Progress),
) -> Result<Outcome> {
    let mut up = get(mirror, id)?;
    if up.state == UploadState::Done {
        return Ok(Outcome::Done);
    }
    if up.state == UploadState::Failed {
        // Tried again on purpose (Resume on a failed upload): it is pending from now on.
        mirror.lock().execute(
            "UPDATE uploads SET state = 'pending', last_error = NULL, updated_at = ?2 WHERE id = ?1 AND state = 'failed'",
            params![id.to_string(), Utc::now().to_rfc3339()],
        )?;
    }
    let result = send(session, mirror, &mut up, pause, &mut progress).await;
    match &result {
        Ok(Outcome::Done) => save(mirror, id, up.size, up.upload_url.as_deref(), UploadState::Done, None)?,
        Ok(Outcome::Paused) => save(mirror, id, up.offset, up.upload_url.as_deref(), UploadState::Paused, None)?,
        Ok(Outcome::Waiting) => {}
        Err(e) if e.is_transient() || e.waits_for_user() => {
            save(mirror, id, up.offset, up.upload_url.as_deref(), UploadState::Pending, Some(&e.to_string()))?;
        }
        Err(e) => save(mirror, id, up.offset, up.upload_url.as_deref(), UploadState::Failed, Some(&e.to_string()))?,
    }
    result
}

async fn send(
    session: &Session,
    mirror: &Mirror,
    up: &mut Upload,
    pause: &watch::Receiver<bool>,
    progress: &mut impl FnMut(Progress),
) -> Result<Outcome> {
    // Where to start: the server's word, not ours.
    let known = match &up.upload_url {
        Some(url) => server_offset(session, url).await?,
        None => None,
    };
    match known {
        Some(offset) => up.offset = offset,
        None => {
            let url = create(session, up).await?;
            // The organization may already hold these bytes (the same file for another
            // project): the upload is then complete, and nothing is sent.
            up.offset = server_offset(session, &url).await?.unwrap_or(0);
            up.upload_url = Some(url);
        }
    }
    save(mirror, up.id, up.offset, up.upload_url.as_deref(), UploadState::Pending, None)?;
    progress(Progress { sent: up.offset, total: up.size });
    let url = up.upload_url.clone().unwrap_or_default();
    let mut chunk = ChunkSize::from_env();
    let mut failures = 0;
    while up.offset < up.size {
        if *pause.borrow() {
            return Ok(Outcome::Paused);
        }
        let len = usize::try_from(up.size - up.offset).unwrap_or(usize::MAX).min(chunk.next());
        let bytes = read_chunk(&up.path, up.offset, len)?;
        let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
        let mut headers = tus_headers();
        headers.push(("Content-Type", "application/offset+octet-stream".to_owned()));
        headers.push(("Upload-Offset", up.offset.to_string()));
        headers.push(("Upload-Checksum", format!("sha256 {sum}")));
        let started = std::time::Instant::now();
        match session.request_with(Method::PATCH, &url, Payload::Octets(bytes.into()), &headers, None).await {
            Ok(resp) => {
                failures = 0;
                chunk.sent(len, started.elapsed());
                up.offset = header_number(&resp, "upload-offset").unwrap_or(up.offset + len as u64);
                save(mirror, up.id, up.offset, Some(&url), UploadState::Pending, None)?;
                progress(Progress { sent: up.offset, total: up.size });
            }
            // Out of step (a chunk whose answer was lost) or a damaged chunk: ask where it stands.
            Err(ClientError::Refused { status: 409 | 460, .. }) => {
                let before = up.offset;
                up.offset = server_offset(session, &url).await?.unwrap_or(0);
                if up.offset == before {
                    // Where we thought: another request (an earlier one of ours, cut off) is
                    // still sending to it. Give it a moment rather than asking again at once.
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                chunk.failed();
                if failures >= ATTEMPTS {
                    save(mirror, up.id, up.offset, Some(&url), UploadState::Pending, Some(&e.to_string()))?;
                    return Ok(Outcome::Waiting);
                }
                // A pause (or a sign-out) ends the wait at once.
                let mut stop = pause.clone();
                tokio::select! {
                    _ = tokio::time::sleep(crate::http::backoff(failures).to_std().unwrap_or_default()) => {}
                    _ = stop.wait_for(|paused| *paused) => return Ok(Outcome::Paused),
                }
                if let Ok(Some(offset)) = server_offset(session, &url).await {
                    up.offset = offset;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn add(mirror: &Mirror, project: Uuid, path: &Path, at: &str, state: &str, error: Option<&str>) {
        add_for(mirror, project, path, at, state, error, "audio");
    }

    fn add_for(mirror: &Mirror, project: Uuid, path: &Path, at: &str, state: &str, error: Option<&str>, purpose: &str) {
        mirror
            .lock()
            .execute(
                "INSERT INTO uploads (id, project_id, path, sha256, size, offset, state, last_error, created_at, updated_at, purpose)
                 VALUES (?1, ?2, ?3, 'x', 1, 0, ?4, ?5, ?6, ?6, ?7)",
                params![Uuid::new_v4().to_string(), project.to_string(), path.display().to_string(), state, error, at, purpose],
            )
            .unwrap();
    }

    #[test]
    fn chunks_follow_the_link_growing_at_most_twofold_and_halving_after_a_failure() {
        use std::time::Duration;
        let mut c = ChunkSize { bytes: DEFAULT_CHUNK_BYTES, fixed: false };
        // Loopback: 4 MiB in 20 ms. The size doubles each chunk up to the server's limit.
        for expected in [8 << 20, 16 << 20, 32 << 20, 64 << 20, 64 << 20] {
            c.sent(c.next(), Duration::from_millis(20));
            assert_eq!(c.next(), expected);
        }
        // The link slows to 2 MB/s: the next chunk takes about a second at that rate.
        c.sent(c.next(), Duration::from_secs_f64((64 << 20) as f64 / 2e6));
        assert_eq!(c.next(), 2_000_000);
        // Slower still: never under 1 MiB.
        c.sent(c.next(), Duration::from_secs(60));
        assert_eq!(c.next(), MIN_CHUNK_BYTES);
        // A short last piece sent fast does not count as the link's speed.
        let mut c = ChunkSize { bytes: 8 << 20, fixed: false };
        c.sent(1000, Duration::from_millis(1));
        assert_eq!(c.next(), 8 << 20);
        // Failures halve it, down to the floor.
        c.failed();
        assert_eq!(c.next(), 4 << 20);
        for _ in 0..10 {
            c.failed();
        }
        assert_eq!(c.next(), MIN_CHUNK_BYTES);
        // A size fixed by the environment stays what it was told.
        let mut fixed = ChunkSize { bytes: 64 << 10, fixed: true };
        fixed.sent(64 << 10, Duration::from_millis(1));
        fixed.failed();
        assert_eq!(fixed.next(), 64 << 10);
    }

    #[test]
    fn a_finished_upload_is_never_written_again_and_only_a_paused_one_is_unpaused() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("m.sqlite")).unwrap();
        let project = Uuid::new_v4();
        let [canceled, stopped, running] = ["canceled.wav", "stopped.wav", "running.wav"].map(|n| dir.path().join(n));
        add(&mirror, project, &canceled, "2026-01-01T00:00:00Z", "failed", Some("cancelled"));
        add(&mirror, project, &stopped, "2026-01-02T00:00:00Z", "paused", None);
        add(&mirror, project, &running, "2026-01-03T00:00:00Z", "pending", None);
        let id_of = |path: &Path| {
            let path = path.display().to_string();
            let id: String =
                mirror.lock().query_row("SELECT id FROM uploads WHERE path = ?1", [path], |r| r.get(0)).unwrap();
            Uuid::parse_str(&id).unwrap()
        };
        let (canceled, stopped, running) = (id_of(&canceled), id_of(&stopped), id_of(&running));
        // A run that ends after its upload was canceled saves its progress and its end: neither
        // brings the upload back.
        save(&mirror, canceled, 10, Some("/v1/uploads/x"), UploadState::Pending, None).unwrap();
        save(&mirror, canceled, 10, Some("/v1/uploads/x"), UploadState::Paused, None).unwrap();
        let after = get(&mirror, canceled).unwrap();
        assert_eq!(
            (after.state, after.last_error.as_deref(), after.offset),
            (UploadState::Failed, Some("cancelled"), 0)
        );
        // A run stopped by a sign-out is kept pending; a pending one is left as it is.
        unpause(&mirror, stopped).unwrap();
        unpause(&mirror, running).unwrap();
        unpause(&mirror, canceled).unwrap();
        assert_eq!(get(&mirror, stopped).unwrap().state, UploadState::Pending);
        assert_eq!(get(&mirror, running).unwrap().state, UploadState::Pending);
        assert_eq!(get(&mirror, canceled).unwrap().state, UploadState::Failed);
        // Progress of a live upload is saved.
        save(&mirror, running, 5, Some("/v1/uploads/y"), UploadState::Pending, None).unwrap();
        assert_eq!(get(&mirror, running).unwrap().offset, 5);
    }

    #[test]
    fn a_projects_local_track_is_its_newest_upload_not_cancelled_while_the_file_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("m.sqlite")).unwrap();
        let (project, other) = (Uuid::new_v4(), Uuid::new_v4());
        let [old, new, dropped, theirs] =
            ["old.wav", "new.wav", "dropped.wav", "theirs.wav"].map(|n| dir.path().join(n));
        for f in [&old, &new, &dropped, &theirs] {
            std::fs::write(f, b"audio").unwrap();
        }
        assert_eq!(local_track(&mirror, project).unwrap(), None, "nothing was sent from here");
        add(&mirror, project, &old, "2026-01-01T00:00:00Z", "done", None);
        assert_eq!(local_track(&mirror, project).unwrap().as_deref(), Some(old.as_path()));
        // A newer track replaces it, even before its upload is done; a cancelled one does not.
        add(&mirror, project, &new, "2026-01-02T00:00:00Z", "pending", None);
        add(&mirror, project, &dropped, "2026-01-03T00:00:00Z", "failed", Some("cancelled"));
        add(&mirror, other, &theirs, "2026-01-04T00:00:00Z", "done", None);
        // A clip added to the footage later is not the track.
        add_for(&mirror, project, &theirs, "2026-01-05T00:00:00Z", "done", None, "footage");
        assert_eq!(local_track(&mirror, project).unwrap().as_deref(), Some(new.as_path()));
        std::fs::remove_file(&new).unwrap();
        assert_eq!(local_track(&mirror, project).unwrap(), None, "the file has gone: no preview, no guess");
    }
}
