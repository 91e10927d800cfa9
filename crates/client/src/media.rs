//! The media cache: rendered videos and thumbnails on disk, so past generations play offline,
//! and footage posters, so a project's footage list shows its pictures offline. Thumbnails are
//! fetched as renders finish, videos and posters when asked for. Invariants: a file is in
//! the index only once it is complete on disk (written aside, then renamed); the cache stays
//! under its size cap by evicting the least recently used files first.

use std::path::PathBuf;

use chrono::Utc;
use futures_util::StreamExt;
use reqwest::Method;
use rusqlite::{params, OptionalExtension};
use std::io::Write as _;
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::mirror::Mirror;
use crate::session::Session;

/// The default cap (`RESONANCE_MEDIA_CACHE_MB` or the desktop's setting changes it).
pub const DEFAULT_CAP_BYTES: u64 = 2 << 30;

/// The cap the app set (0: none set, the environment or the default applies).
static CAP_SET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the cache's cap for this process (the desktop's "media cache size" setting).
pub fn set_cap_bytes(cap: u64) {
    CAP_SET.store(cap.max(1), std::sync::atomic::Ordering::Relaxed);
}

pub fn cap_bytes() -> u64 {
    match CAP_SET.load(std::sync::atomic::Ordering::Relaxed) {
        0 => std::env::var("RESONANCE_MEDIA_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_CAP_BYTES, |mb| mb.saturating_mul(1 << 20)),
        set => set,
    }
}

/// Bytes the cache holds now.
pub fn usage(mirror: &Mirror) -> Result<u64> {
    let total: i64 = mirror.lock().query_row("SELECT coalesce(sum(size), 0) FROM media_cache", [], |r| r.get(0))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A generation's video.
    Video,
    /// A generation's thumbnail.
    Thumbnail,
    /// A footage item's poster frame (keyed by the item's id).
    Poster,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Thumbnail => "thumbnail",
            Self::Poster => "poster",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Video => "mp4",
            Self::Thumbnail => "jpg",
            Self::Poster => "poster.jpg",
        }
    }
}

/// Where the cache keeps its files: beside the account's mirror.
pub fn directory(mirror: &Mirror) -> PathBuf {
    mirror.path().parent().map_or_else(|| PathBuf::from("media"), |d| d.join("media"))
}

/// Where the index says `kind` of `id` is, if it is indexed.
fn indexed(conn: &rusqlite::Connection, id: Uuid, kind: Kind) -> Result<Option<PathBuf>> {
    let path: Option<String> = conn
        .query_row(
            "SELECT path FROM media_cache WHERE generation_id = ?1 AND kind = ?2",
            params![id.to_string(), kind.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(path.map(PathBuf::from))
}

/// The cached file, if it is there (and marks it used).
pub fn cached(mirror: &Mirror, generation: Uuid, kind: Kind) -> Result<Option<PathBuf>> {
    let conn = mirror.lock();
    match indexed(&conn, generation, kind)? {
        Some(p) if p.exists() => {
            conn.execute(
                "UPDATE media_cache SET last_used_at = ?3 WHERE generation_id = ?1 AND kind = ?2",
                params![generation.to_string(), kind.as_str(), Utc::now().to_rfc3339()],
            )?;
            Ok(Some(p))
        }
        Some(_) => {
            conn.execute(
                "DELETE FROM media_cache WHERE generation_id = ?1 AND kind = ?2",
                params![generation.to_string(), kind.as_str()],
            )?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Where the server serves `kind` of `id` (a generation's, or a footage item's poster).
fn source(mirror: &Mirror, id: Uuid, kind: Kind) -> Result<String> {
    if kind == Kind::Poster {
        mirror.footage_item(id)?.ok_or_else(|| ClientError::NotFound { what: "footage", id: id.to_string() })?;
        return Ok(format!("/v1/footage/{id}/poster"));
    }
    let g = mirror.generation(id)?.ok_or_else(|| ClientError::NotFound { what: "generation", id: id.to_string() })?;
    match kind {
        Kind::Video => g.video_url,
        Kind::Thumbnail | Kind::Poster => g.thumbnail_url,
    }
    .ok_or_else(|| ClientError::Invalid { field: "generation".into(), message: "this render has not finished".into() })
}

/// The file, from the cache or downloaded into it: `kind` of the generation `id`, or the poster
/// of the footage item `id`.
pub async fn fetch(session: &Session, mirror: &Mirror, generation: Uuid, kind: Kind) -> Result<PathBuf> {
    if let Some(path) = cached(mirror, generation, kind)? {
        return Ok(path);
    }
    let url = source(mirror, generation, kind)?;
    let dir = directory(mirror);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{generation}.{}", kind.extension()));
    // Each download its own partial file: two at once (a list redrawn twice) never mix bytes.
    let partial = dir.join(format!("{generation}.{}.{}.partial", kind.extension(), Uuid::new_v4().simple()));
    let resp = session.request(Method::GET, &url, None, None).await?;
    let mut file = std::fs::File::create(&partial)?;
    let mut size = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece
            .map_err(|e| ClientError::Offline { server: session.http().server().into(), reason: e.to_string() })?;
        size += piece.len() as u64;
        file.write_all(&piece)?;
    }
    file.flush()?;
    drop(file);
    std::fs::rename(&partial, &path)?;
    mirror.lock().execute(
        "INSERT OR REPLACE INTO media_cache (generation_id, kind, path, size, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![generation.to_string(), kind.as_str(), path.display().to_string(), size as i64, Utc::now().to_rfc3339()],
    )?;
    evict(mirror, cap_bytes())?;
    Ok(path)
}

/// Removes the least recently used files until the cache holds at most `cap` bytes.
pub fn evict(mirror: &Mirror, cap: u64) -> Result<u64> {
    let conn = mirror.lock();
    let mut total: i64 = conn.query_row("SELECT coalesce(sum(size), 0) FROM media_cache", [], |r| r.get(0))?;
    let mut removed = 0;
    let entries: Vec<(String, String, String, i64)> = {
        let mut stmt =
            conn.prepare("SELECT generation_id, kind, path, size FROM media_cache ORDER BY last_used_at, path")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (generation, kind, path, size) in entries {
        if u64::try_from(total).unwrap_or(0) <= cap {
            break;
        }
        let _ = std::fs::remove_file(&path);
        conn.execute("DELETE FROM media_cache WHERE generation_id = ?1 AND kind = ?2", params![generation, kind])?;
        total -= size;
        removed += 1;
    }
    Ok(removed)
}

/// Drops `kind` of `id` from the cache (a removed footage item's poster).
pub fn forget(mirror: &Mirror, id: Uuid, kind: Kind) -> Result<()> {
    let conn = mirror.lock();
    if let Some(path) = indexed(&conn, id, kind)? {
        let _ = std::fs::remove_file(path);
        conn.execute(
            "DELETE FROM media_cache WHERE generation_id = ?1 AND kind = ?2",
            params![id.to_string(), kind.as_str()],
        )?;
    }
    Ok(())
}

/// Empties the cache ("clear cache" in settings).
pub fn clear(mirror: &Mirror) -> Result<()> {
    evict(mirror, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_files_go_first_and_the_cap_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
        let media = directory(&mirror);
        std::fs::create_dir_all(&media).unwrap();
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            let path = media.join(format!("{id}.mp4"));
            std::fs::write(&path, vec![0u8; 1000]).unwrap();
            mirror
                .lock()
                .execute(
                    "INSERT INTO media_cache (generation_id, kind, path, size, last_used_at) VALUES (?1, 'video', ?2, 1000, ?3)",
                    params![id.to_string(), path.display().to_string(), format!("2026-01-0{}T00:00:00Z", i + 1)],
                )
                .unwrap();
        }
        // Using the oldest makes it the newest.
        assert!(cached(&mirror, ids[0], Kind::Video).unwrap().is_some());
        assert_eq!(evict(&mirror, 2500).unwrap(), 2);
        let kept: Vec<bool> = ids.iter().map(|id| cached(&mirror, *id, Kind::Video).unwrap().is_some()).collect();
        assert_eq!(kept, vec![true, false, false, true], "ids 1 and 2 were least recently used");
        assert!(!media.join(format!("{}.mp4", ids[1])).exists(), "evicted files are deleted");
        clear(&mirror).unwrap();
        assert!(ids.iter().all(|id| cached(&mirror, *id, Kind::Video).unwrap().is_none()));
    }

    #[test]
    fn a_forgotten_poster_leaves_the_index_and_the_disk_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
        let media = directory(&mirror);
        std::fs::create_dir_all(&media).unwrap();
        let id = Uuid::new_v4();
        for kind in [Kind::Poster, Kind::Thumbnail] {
            let path = media.join(format!("{id}.{}", kind.extension()));
            std::fs::write(&path, b"jpeg").unwrap();
            mirror
                .lock()
                .execute(
                    "INSERT INTO media_cache (generation_id, kind, path, size, last_used_at) VALUES (?1, ?2, ?3, 4, 'now')",
                    params![id.to_string(), kind.as_str(), path.display().to_string()],
                )
                .unwrap();
        }
        forget(&mirror, id, Kind::Poster).unwrap();
        forget(&mirror, id, Kind::Poster).unwrap(); // twice is harmless
        assert!(cached(&mirror, id, Kind::Poster).unwrap().is_none());
        assert!(!media.join(format!("{id}.poster.jpg")).exists(), "the file is deleted");
        assert!(cached(&mirror, id, Kind::Thumbnail).unwrap().is_some(), "only the poster goes");
    }
}
