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

/// Extensions that are only ever audio, only ever pictures, or (Apple's) only ever video.
const AUDIO_EXTENSIONS: [&str; 9] = ["mp3", "wav", "flac", "ogg", "opus", "m4a", "aac", "aiff", "aif"];
const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
const VIDEO_EXTENSIONS: [&str; 2] = ["mov", "m4v"];

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
/// Known extensions decide; a container that holds either (MP4, WebM, Matroska) is footage
/// when it has a picture of its own (a song's cover art is not one), else audio. A file ffmpeg
/// cannot read at all (and a MOV) counts as footage, so that its refusal says why.
pub fn classify(path: &Path) -> Result<UploadPurpose> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
        return Ok(UploadPurpose::Audio);
    }
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) || VIDEO_EXTENSIONS.contains(&ext.as_str()) {
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
        Ok(_) => UploadPurpose::Audio,
        Err(_) => UploadPurpose::Footage,
    })
}

/// What became of one file offered as a project's footage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Offered {
    /// Judged footage and recorded: its upload is ready to be sent.
    Queued { upload: crate::uploads::Upload },
    /// The same bytes are already among the project's footage: nothing is sent.
    Present { path: std::path::PathBuf, item: Uuid },
    /// Not footage, or unreadable: nothing is kept, and why is said.
    Refused { path: std::path::PathBuf, reason: String },
}

/// Judges each of `paths` and records the upload of those that are footage and new to
/// `project` (blocking: it reads and hashes every file). One file refused does not stop the others.
pub fn offer(mirror: &Mirror, project: Uuid, paths: &[std::path::PathBuf]) -> Result<Vec<Offered>> {
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let probed = match probe(path) {
            Ok(p) => p,
            Err(ClientError::Invalid { message, .. }) => {
                out.push(Offered::Refused { path: path.clone(), reason: message });
                continue;
            }
            Err(ClientError::Io(e)) => {
                let reason = format!("{} cannot be read: {e}", path.display());
                out.push(Offered::Refused { path: path.clone(), reason });
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(item) = mirror.footage(project)?.into_iter().find(|f| f.sha256 == probed.sha256) {
            out.push(Offered::Present { path: path.clone(), item: item.id });
            continue;
        }
        let upload = crate::uploads::record(mirror, project, path, &probed.sha256, UploadPurpose::Footage)?;
        out.push(Offered::Queued { upload });
    }
    Ok(out)
}

/// The project's footage as the server has it now (and the mirror then).
pub async fn refresh(session: &Session, mirror: &Mirror, project: Uuid) -> Result<Vec<Footage>> {
    let resp = session.request(Method::GET, &format!("/v1/projects/{project}/footage"), None, None).await?;
    let items: Vec<Footage> = crate::session::read_json(resp).await?;
    crate::mirror::replace_footage(mirror, project, &items)?;
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
    crate::mirror::forget_footage(mirror, id)?;
    crate::media::forget(mirror, id, crate::media::Kind::Poster)?;
    if let Some(project) = project {
        refresh(session, mirror, project).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::uploads::UploadState;

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
        let broken = dir.path().join("phone.mov");
        std::fs::write(&broken, b"not a movie").unwrap();
        assert_eq!(classify(&broken).unwrap(), UploadPurpose::Footage, "a MOV is footage, so its refusal says why");
        let pdf = dir.path().join("lyrics.pdf");
        std::fs::write(&pdf, b"%PDF-1.4 words").unwrap();
        assert_eq!(classify(&pdf).unwrap(), UploadPurpose::Footage, "so is what ffmpeg cannot read");

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

    #[test]
    fn offered_files_are_queued_once_refused_with_their_reason_or_found_present() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open(&dir.path().join("mirror.sqlite")).unwrap();
        let project = Uuid::new_v4();
        let clip =
            made(dir.path(), "band.mp4", "-f lavfi -i testsrc2=s=320x240:r=30:d=1 -c:v libx264 -pix_fmt yuv420p");
        let still = made(dir.path(), "cover.png", "-f lavfi -i testsrc2=s=64x48 -frames:v 1");
        let wav = made(dir.path(), "take.wav", "-f lavfi -i sine=d=1");
        let gone = dir.path().join("gone.mp4");
        let offered = offer(&mirror, project, &[clip.clone(), wav.clone(), gone.clone(), still.clone()]).unwrap();
        let Offered::Queued { upload } = &offered[0] else { panic!("{offered:?}") };
        assert_eq!(
            (upload.purpose, upload.project_id, upload.state),
            (UploadPurpose::Footage, project, UploadState::Pending)
        );
        assert!(
            matches!(&offered[1], Offered::Refused { path, reason } if path == &wav && reason.starts_with(&*wav.to_string_lossy()) && reason.contains("holds no picture")),
            "{offered:?}"
        );
        assert!(
            matches!(&offered[2], Offered::Refused { path, reason } if path == &gone && reason.contains("gone.mp4")),
            "{offered:?}"
        );
        assert!(matches!(&offered[3], Offered::Queued { .. }), "one refused file does not stop the next: {offered:?}");
        // The same file again resumes the same upload, not a second one.
        let again = offer(&mirror, project, std::slice::from_ref(&clip)).unwrap();
        assert!(matches!(&again[0], Offered::Queued { upload: u } if u.id == upload.id), "{again:?}");
        // Paused before its turn, it stays paused (a restart does not send it); twice is harmless.
        assert_eq!(crate::uploads::mark_paused(&mirror, upload.id).unwrap().state, UploadState::Paused);
        assert_eq!(crate::uploads::mark_paused(&mirror, upload.id).unwrap().state, UploadState::Paused);
        let left = crate::uploads::unfinished(&mirror).unwrap();
        assert!(left.iter().any(|u| u.id == upload.id && u.state == UploadState::Paused), "{left:?}");
        // Once the clip is among the project's footage, offering it sends nothing.
        let probed = probe(&clip).unwrap();
        let item = Footage {
            id: Uuid::new_v4(),
            organization_id: Uuid::new_v4(),
            project_id: project,
            user_id: Uuid::new_v4(),
            kind: resonance_api::footage::FootageKind::Video,
            filename: Some("band.mp4".into()),
            object_key: "k".into(),
            poster_key: "p".into(),
            sha256: probed.sha256,
            size: i64::try_from(probed.size).unwrap(),
            duration: Some(1.0),
            width: 320,
            height: 240,
            codec: "h264".into(),
            position: 0,
            in_point: None,
            out_point: None,
            created_at: None,
            updated_at: None,
        };
        crate::mirror::replace_footage(&mirror, project, std::slice::from_ref(&item)).unwrap();
        let present = offer(&mirror, project, &[clip]).unwrap();
        assert_eq!(present, vec![Offered::Present { path: dir.path().join("band.mp4"), item: item.id }]);
    }
}
