//! A project's footage from this computer: clips and stills judged by ffprobe before a byte is
//! sent (the same rule as the server's, `resonance_api::footage::accept`), uploaded through
//! [`crate::uploads`] with the purpose `footage`, listed from the mirror (offline too), and
//! arranged, trimmed and removed online. Invariant: after a change the mirror holds the project's
//! list as the server answered it, so the order shown is never a guess.

use std::io::Read;
use std::path::Path;

use reqwest::Method;
use resonance_api::footage::{FootageFacts, FootagePatch, UploadPurpose};
use resonance_api::model::Footage;
use resonance_api::sync::Table;
use rusqlite::params;
use sha2::Digest;
use uuid::Uuid;

use crate::error::{ClientError, Result};
use crate::mirror::Mirror;
use crate::session::Session;

/// A file judged footage here, with what its upload declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub facts: FootageFacts,
    pub sha256: String,
    pub size: u64,
}

/// Extensions that are only ever audio, or only ever pictures.
const AUDIO_EXTENSIONS: [&str; 9] = ["mp3", "wav", "flac", "ogg", "opus", "m4a", "aac", "aiff", "aif"];
const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

fn read_probe(path: &Path) -> Result<std::result::Result<resonance_api::footage::Probe, String>> {
    let out = std::process::Command::new("ffprobe")
        .args(resonance_api::footage::probe_args(path))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ClientError::Invalid {
                    field: "footage".into(),
                    message: "ffprobe is not installed; install FFmpeg (on Debian: apt install ffmpeg) to add footage"
                        .into(),
                }
            } else {
                ClientError::Io(e)
            }
        })?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let last = said.lines().map(str::trim).rev().find(|l| !l.is_empty()).unwrap_or("no reason given");
        let last = last.rsplit_once(": ").map_or(last, |(_, reason)| reason);
        return Ok(Err(last.to_owned()));
    }
    Ok(Ok(serde_json::from_slice(&out.stdout)?))
}

fn not_footage(path: &Path, why: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid {
        field: "footage".into(),
        message: format!("{} is not footage we can use: {why}", path.display()),
    }
}

/// Reads and hashes `path` (blocking: call it off the UI's thread). What is not footage is
/// refused here, naming what it is, before anything is sent.
pub fn probe(path: &Path) -> Result<Probed> {
    let probe = read_probe(path)?.map_err(|reason| not_footage(path, format!("ffmpeg cannot read it ({reason})")))?;
    let facts = resonance_api::footage::accept(&probe).map_err(|why| not_footage(path, why))?;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Probed { facts, sha256: hex::encode(hasher.finalize()), size })
}

/// What a file dropped on a project is for: its track (audio) or its footage (a clip or a still).
/// Known extensions decide; a container that holds either (MP4, WebM, Matroska, MOV) is footage
/// when it has a picture of its own (a song's cover art is not one), else audio.
pub fn classify(path: &Path) -> Result<UploadPurpose> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        return Ok(UploadPurpose::Audio);
    }
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        return Ok(UploadPurpose::Footage);
    }
    Ok(match read_probe(path)? {
        Ok(probe)
            if probe
                .streams
                .iter()
                .any(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0) =>
        {
            UploadPurpose::Footage
        }
        _ => UploadPurpose::Audio,
    })
}

/// Replaces the mirror's list of `project` with the server's.
fn mirror_list(mirror: &Mirror, project: Uuid, items: &[Footage]) -> Result<()> {
    let mut conn = mirror.lock();
    let tx = crate::mirror::write(&mut conn)?;
    let keep: Vec<String> = items.iter().map(|f| f.id.to_string()).collect();
    let kept = serde_json::to_string(&keep)?;
    tx.execute(
        "DELETE FROM footage WHERE project_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))",
        params![project.to_string(), kept],
    )?;
    for item in items {
        crate::sync::store(&tx, Table::Footage, item.id, item)?;
    }
    tx.commit()?;
    Ok(())
}

/// The project's footage as the server has it now (and the mirror then).
pub async fn refresh(session: &Session, mirror: &Mirror, project: Uuid) -> Result<Vec<Footage>> {
    let resp = session.request(Method::GET, &format!("/v1/projects/{project}/footage"), None, None).await?;
    let items: Vec<Footage> = crate::session::read_json(resp).await?;
    mirror_list(mirror, project, &items)?;
    Ok(items)
}

/// Moves an item or sets the part of a clip to use; the project's list after it.
pub async fn change(session: &Session, mirror: &Mirror, id: Uuid, patch: &FootagePatch) -> Result<Vec<Footage>> {
    let body = serde_json::to_value(patch)?;
    let resp = session.request(Method::PATCH, &format!("/v1/footage/{id}"), Some(&body), Some(Uuid::new_v4())).await?;
    let item: Footage = crate::session::read_json(resp).await?;
    refresh(session, mirror, item.project_id).await
}

/// Removes an item from its project (and the mirror's list: the item at once, the order of the
/// rest as the server has it when it can be read).
pub async fn remove(session: &Session, mirror: &Mirror, id: Uuid) -> Result<()> {
    let project = mirror.footage_item(id)?.map(|item| item.project_id);
    session.request(Method::DELETE, &format!("/v1/footage/{id}"), None, Some(Uuid::new_v4())).await?;
    mirror.lock().execute("DELETE FROM footage WHERE id = ?1", params![id.to_string()])?;
    if let Some(project) = project {
        refresh(session, mirror, project).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn made(dir: &Path, name: &str, args: &str) -> std::path::PathBuf {
        let out = dir.join(name);
        let ok = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args.split_whitespace())
            .arg(&out)
            .status()
            .unwrap()
            .success();
        assert!(ok, "ffmpeg {args}");
        out
    }

    #[test]
    fn files_are_told_apart_and_footage_is_judged_before_it_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let clip =
            made(dir.path(), "band.mp4", "-f lavfi -i testsrc2=s=320x240:r=30:d=1 -c:v libx264 -pix_fmt yuv420p");
        let song = made(dir.path(), "song.mp4", "-f lavfi -i sine=d=1 -c:a aac");
        let still = made(dir.path(), "cover.png", "-f lavfi -i testsrc2=s=64x48 -frames:v 1");
        let wav = made(dir.path(), "take.wav", "-f lavfi -i sine=d=1");
        assert_eq!(classify(&clip).unwrap(), UploadPurpose::Footage);
        assert_eq!(classify(&song).unwrap(), UploadPurpose::Audio, "an MP4 without a picture is a song");
        assert_eq!(classify(&still).unwrap(), UploadPurpose::Footage);
        assert_eq!(classify(&wav).unwrap(), UploadPurpose::Audio);

        let probed = probe(&clip).unwrap();
        assert_eq!((probed.facts.width, probed.facts.height, probed.facts.codec.as_str()), (320, 240, "h264"));
        assert_eq!(probed.size, std::fs::metadata(&clip).unwrap().len());
        assert_eq!(probed.sha256, hex::encode(sha2::Sha256::digest(std::fs::read(&clip).unwrap())));
        let refused = probe(&wav).unwrap_err().to_string();
        assert!(refused.contains("take.wav is not footage") && refused.contains("holds no picture"), "{refused}");
        let words = dir.path().join("notes.mp4");
        std::fs::write(&words, b"only words").unwrap();
        let refused = probe(&words).unwrap_err().to_string();
        assert!(refused.contains("ffmpeg cannot read it (Invalid data found"), "{refused}");
    }
}
