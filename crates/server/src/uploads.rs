//! Uploads, whatever protocol carries them (`http::uploads` speaks tus; `storage::uploads`
//! holds the rows). Invariants:
//! - a request first claims the upload (the caller may upload, the upload is open at that
//!   offset, no other request is sending to it), so no byte is stored for a request that will be
//!   refused;
//! - every chunk is streamed into its own object (a few MB in memory at most) before the row's
//!   offset moves past it, under the row's lock, so the offset a client reads back is always
//!   backed by stored bytes; a chunk cut off mid-way is dropped whole, so a resumed upload
//!   re-sends at most that one chunk;
//! - the finished file is joined, hashed and judged before it is kept: as audio (decoded) for
//!   the project's track, as footage (probed, decoded, its poster drawn) for its footage; what it
//!   is not is refused and nothing of it is kept; bytes the organization already stored finish at
//!   once.

use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use resonance_api::ErrorCode;
use sha2::Digest;
use uuid::Uuid;

use crate::credentials::AccessClaims;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::media::{self, Judged};
use crate::storage::footage::{self, NewFootage};
use crate::storage::logs::{self, Entry};
use crate::storage::uploads::{self, NewUpload, Purpose, TransferState, Upload};

/// The largest single chunk accepted: clients send chunks of a few MB.
pub const MAX_CHUNK_BYTES: usize = 64 << 20;
/// How often a streaming chunk renews its claim.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(20);
/// The size of the parts a chunk is streamed to storage in.
const PART_BYTES: usize = 5 << 20;

/// One server instance's uploads: where their bytes go, and how many are judged at once.
#[derive(Clone)]
pub struct Uploads {
    db: Db,
    storage: Arc<dyn ObjectStore>,
    max_bytes: u64,
    /// Uploads being joined and decoded at once: half the cores, so requests keep the rest.
    finishing: Arc<tokio::sync::Semaphore>,
}

/// An upload just opened; `finished` when bytes the organization already stored completed it.
pub struct Created {
    pub upload: Upload,
    pub finished: bool,
}

impl Uploads {
    pub fn new(db: Db, storage: Arc<dyn ObjectStore>, max_bytes: u64) -> Self {
        let finishing = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        Self { db, storage, max_bytes, finishing: Arc::new(tokio::sync::Semaphore::new(finishing)) }
    }

    /// The largest file accepted, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// A file's announced size, refused when it is larger than this server accepts; checked
    /// before anything else about an upload is read.
    pub fn accept_length(&self, length: u64) -> Result<i64> {
        if length > self.max_bytes {
            return Err(Error::refused(
                ErrorCode::PayloadTooLarge,
                format!("This server accepts files of at most {} bytes; this one has {length}.", self.max_bytes),
            ));
        }
        i64::try_from(length).map_err(|_| Error::bad_request("Upload-Length is too large."))
    }

    /// Opens an upload of `new.length` bytes for a project. Bytes the organization already
    /// stored (a declared SHA-256 it holds) finish it at once: as the project's track, or as
    /// footage listed again (copied when another project holds it). Footage that cannot fit in
    /// the plan is refused before a byte is sent.
    pub async fn create(&self, claims: &AccessClaims, new: &NewUpload<'_>) -> Result<Created> {
        self.accept_length(u64::try_from(new.length).unwrap_or(u64::MAX))?;
        let (mut tx, caller) = self.db.begin_for(claims).await?;
        let upload = uploads::create(&mut tx, &caller, new).await?;
        let (project_id, length) = (new.project_id, new.length);
        if new.purpose == Purpose::Footage {
            let stored = match new.declared_sha256 {
                Some(sha) => footage::with_bytes(&mut tx, project_id, sha, length).await?,
                None => None,
            };
            let finished = match stored {
                // Already this project's: the upload is that item.
                Some(item) if item.project_id == project_id => {
                    uploads::complete(&mut tx, upload.id, &item.object_key, &item.sha256, item.duration).await?;
                    true
                }
                Some(item) => {
                    footage::room(&mut tx, 1, length).await?;
                    self.adopt_footage(&mut tx, &caller, &upload, &item).await?;
                    true
                }
                None => {
                    // Refused before a byte is sent when it cannot fit; checked again when it is kept.
                    footage::room(&mut tx, 1, length).await?;
                    false
                }
            };
            tx.commit().await?;
            return Ok(Created { upload, finished });
        }
        // Bytes already stored for this organization: no need to send them again.
        if let Some(sha) = new.declared_sha256 {
            if let Some(stored) = uploads::find_stored(&mut tx, sha, length, Purpose::Audio).await? {
                let (Some(from), Some(duration)) = (&stored.object_key, stored.duration) else {
                    return Err(Error::Invariant("a complete upload without its object".into()));
                };
                let ext = from.rsplit('.').next().unwrap_or("audio");
                let key = object_key(&upload, sha, ext);
                if *from != key {
                    self.storage.copy(&ObjectPath::from(from.as_str()), &ObjectPath::from(key.as_str())).await?;
                }
                uploads::complete(&mut tx, upload.id, &key, sha, Some(duration)).await?;
                uploads::attach_to_project(&mut tx, project_id, &key, duration).await?;
                logs::append(
                    &mut tx,
                    &caller,
                    Entry::success("upload.complete", "Attached audio already stored (same bytes)").project(project_id),
                )
                .await?;
                tx.commit().await?;
                return Ok(Created { upload, finished: true });
            }
        }
        tx.commit().await?;
        Ok(Created { upload, finished: false })
    }

    /// Footage another project of the organization already holds, copied into this upload's folder
    /// and listed in its project with the same facts (a file is judged once).
    async fn adopt_footage(
        &self,
        tx: &mut crate::db::Tx,
        caller: &crate::db::Caller,
        upload: &Upload,
        item: &resonance_api::model::Footage,
    ) -> Result<()> {
        let ext = item.object_key.rsplit('.').next().unwrap_or("bin");
        let (key, poster) = footage_keys(upload, ext);
        let listed = async {
            self.storage.copy(&ObjectPath::from(item.object_key.as_str()), &ObjectPath::from(key.as_str())).await?;
            self.storage.copy(&ObjectPath::from(item.poster_key.as_str()), &ObjectPath::from(poster.as_str())).await?;
            list_copy(tx, caller, upload, item, (&key, &poster), ext).await
        }
        .await;
        if listed.is_err() {
            // The transaction is rolled back with the error: its copies must not outlive it.
            for k in [&key, &poster] {
                delete_object(self.storage.as_ref(), &ObjectPath::from(k.as_str())).await;
            }
        }
        listed
    }

    /// The upload as it stands now, read in a transaction of its own (under the caller's RLS).
    pub async fn read(&self, claims: &AccessClaims, id: Uuid) -> Result<Upload> {
        let (mut tx, _caller) = self.db.begin_for(claims).await?;
        let upload = uploads::get(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok(upload)
    }

    /// Where the upload stands, for a caller resuming it: refused when it is cancelled, refused
    /// or expired. An upload whose every byte arrived but whose last request ended before the
    /// file was kept is finished now.
    pub async fn stand(&self, claims: &AccessClaims, id: Uuid) -> Result<Upload> {
        let upload = self.read(claims, id).await?;
        check_open(&upload)?;
        if upload.state == TransferState::Receiving && upload.offset == upload.length {
            self.finish(claims, id).await?;
            return self.read(claims, id).await;
        }
        Ok(upload)
    }

    /// Claims the upload for this request: the caller may upload, the upload is open, stands at
    /// `at`, and no other request is sending to it. Refused, it stores nothing and holds nothing.
    pub async fn claim(&self, claims: &AccessClaims, id: Uuid, at: i64) -> Result<Claimed> {
        let holder = Uuid::new_v4();
        let (mut tx, caller) = self.db.begin_for(claims).await?;
        if !caller.role.can_edit_projects() {
            // Existence is no secret from a member who can read the organization's uploads anyway.
            let upload = uploads::get(&mut tx, id, false).await?;
            return Err(Error::forbidden(format!(
                "Viewers cannot upload {}; ask an admin for the developer role.",
                upload.purpose.0.as_str()
            )));
        }
        if let Some(upload) = uploads::claim(&mut tx, id, holder, at, uploads::PATCH_LEASE_SECONDS).await? {
            tx.commit().await?;
            return Ok(Claimed { uploads: self.clone(), claims: claims.clone(), id, holder, released: false, upload });
        }
        let upload = uploads::get(&mut tx, id, false).await?;
        check_open(&upload)?;
        if upload.offset != at {
            return Err(Error::conflict(format!("The upload stands at byte {}; resume from there.", upload.offset)));
        }
        Err(Error::conflict(
            "Another request is sending to this upload now; wait for it to end, then resume from its offset.",
        ))
    }

    /// Streams a chunk into storage at the claimed upload's offset, at most the rest of the file
    /// and [`MAX_CHUNK_BYTES`], checking `checksum`; then moves the offset past it, and finishes
    /// the upload when it is whole. Returns the upload as it then stands. A chunk cut off, too
    /// long or not matching its checksum stores nothing and moves nothing.
    pub async fn append<B, E>(
        &self,
        claimed: Claimed,
        body: impl Stream<Item = std::result::Result<B, E>> + Unpin,
        checksum: Option<Checksum>,
    ) -> Result<Upload>
    where
        B: AsRef<[u8]>,
    {
        let (id, holder, at) = (claimed.id, claimed.holder, claimed.upload.offset);
        let claims = claimed.claims.clone();
        let upload = &claimed.upload;
        let room = usize::try_from(upload.length - upload.offset).unwrap_or(usize::MAX).min(MAX_CHUNK_BYTES);
        let key = part_key(id, at);
        let length = match self.receive(&claimed, &key, body, room, checksum).await {
            Ok(length) => length,
            Err(e) => {
                claimed.release().await;
                return Err(e);
            }
        };
        let (mut tx, _caller) = self.db.begin_for(&claims).await?;
        let current = uploads::get(&mut tx, id, true).await?;
        if current.offset != at || current.state != TransferState::Receiving || current.patch_holder != Some(holder) {
            // The claim ran out and another request moved the upload meanwhile: this chunk is not
            // part of it.
            drop(tx);
            if length > 0 {
                delete_object(self.storage.as_ref(), &key).await;
            }
            claimed.release().await;
            return Err(Error::conflict(format!("The upload stands at byte {}; resume from there.", current.offset)));
        }
        let advanced = if length > 0 {
            uploads::advance(&mut tx, id, at + length, key.as_ref()).await?
        } else {
            uploads::release_patch(&mut tx, id, holder).await?;
            current
        };
        tx.commit().await?;
        claimed.done();
        if advanced.offset == advanced.length {
            self.finish(&claims, id).await?;
        }
        Ok(advanced)
    }

    async fn release(&self, claims: &AccessClaims, id: Uuid, holder: Uuid) {
        let released = async {
            let (mut tx, _caller) = self.db.begin_for(claims).await?;
            uploads::release_patch(&mut tx, id, holder).await?;
            tx.commit().await?;
            Ok::<(), Error>(())
        };
        if let Err(e) = released.await {
            tracing::warn!(upload = %id, error = %e, "could not release an upload's claim; it runs out by itself");
        }
    }

    /// Streams the chunk into its own object, at most `room` bytes, checking `checksum`; returns its
    /// length. A body cut off mid-way, too long or not matching its checksum stores nothing.
    async fn receive<B, E>(
        &self,
        claimed: &Claimed,
        key: &ObjectPath,
        mut stream: impl Stream<Item = std::result::Result<B, E>> + Unpin,
        room: usize,
        mut checksum: Option<Checksum>,
    ) -> Result<i64>
    where
        B: AsRef<[u8]>,
    {
        let mut writer: Option<WriteMultipart> = None;
        let mut received = 0usize;
        let mut renewed = std::time::Instant::now();
        let outcome: Result<()> = async {
            while let Some(piece) = stream.next().await {
                let piece =
                    piece.map_err(|_| Error::bad_request("The chunk was cut off; send it again from the same offset."))?;
                let piece = piece.as_ref();
                if received + piece.len() > room {
                    return Err(Error::refused(
                        ErrorCode::PayloadTooLarge,
                        format!(
                            "A chunk may hold at most {room} bytes here (the rest of the file, and at most {MAX_CHUNK_BYTES})."
                        ),
                    ));
                }
                if piece.is_empty() {
                    continue;
                }
                received += piece.len();
                if let Some(c) = checksum.as_mut() {
                    c.update(piece);
                }
                let w = match writer.as_mut() {
                    Some(w) => w,
                    None => writer.insert(WriteMultipart::new_with_chunk_size(
                        self.storage.put_multipart(key).await?,
                        PART_BYTES,
                    )),
                };
                // At most two parts in flight: memory stays bounded whatever the chunk's size.
                w.wait_for_capacity(2).await?;
                w.write(piece);
                if renewed.elapsed() >= RENEW_EVERY {
                    claimed.renew().await?;
                    renewed = std::time::Instant::now();
                }
            }
            if checksum.take().is_some_and(|c| !c.matches()) {
                return Err(Error::refused(
                    ErrorCode::ChecksumMismatch,
                    "The chunk does not match its Upload-Checksum; send it again.",
                ));
            }
            Ok(())
        }
        .await;
        match (outcome, writer) {
            (Ok(()), Some(w)) => {
                w.finish().await?;
            }
            (Ok(()), None) => {}
            (Err(e), Some(w)) => {
                if let Err(abort) = w.abort().await {
                    tracing::warn!(error = %abort, "could not abort a cut-off chunk's object");
                }
                return Err(e);
            }
            (Err(e), None) => return Err(e),
        }
        i64::try_from(received).map_err(|_| Error::bad_request("The chunk is too large."))
    }

    /// Joins the chunks, hashes and decodes the file, keeps it under its final key and gives it to
    /// the project. Once: the upload is claimed for the work (a second caller finds it held or
    /// done), and no database connection or row lock is held while the file is joined and decoded,
    /// so many large uploads finishing at once do not starve the pool.
    async fn finish(&self, claims: &AccessClaims, id: Uuid) -> Result<()> {
        let holder = Uuid::new_v4();
        let (mut tx, _caller) = self.db.begin_for(claims).await?;
        let length = uploads::get(&mut tx, id, false).await?.length;
        let Some(upload) = uploads::claim(&mut tx, id, holder, length, uploads::FINISH_LEASE_SECONDS).await? else {
            // Finished, failed, or being finished by another request.
            return Ok(());
        };
        tx.commit().await?;
        let claimed = Claimed {
            uploads: self.clone(),
            claims: claims.clone(),
            id,
            holder,
            released: false,
            upload: upload.clone(),
        };
        let temp = std::env::temp_dir().join(format!("resonance-upload-{id}-{holder}"));
        // A few at a time: decoding is CPU work, and the other requests need the cores too.
        let outcome = match self.finishing.acquire().await {
            Ok(_turn) => self.examine(&upload, &temp).await,
            Err(_) => Err(Error::Invariant("the finishing queue is closed".into())),
        };
        let _ = std::fs::remove_file(&temp);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                claimed.release().await;
                return Err(e);
            }
        };
        let (mut tx, caller) = self.db.begin_for(claims).await?;
        let current = uploads::get(&mut tx, id, true).await?;
        if current.state != TransferState::Receiving || current.patch_holder != Some(holder) {
            // The claim ran out and another request finished it; its answer stands.
            return Ok(());
        }
        claimed.done();
        let mut unkept: Vec<String> = Vec::new();
        let refusal = match outcome {
            Examined::Audio { key, sha256, duration } => {
                uploads::complete(&mut tx, id, &key, &sha256, Some(duration)).await?;
                uploads::attach_to_project(&mut tx, upload.project_id, &key, duration).await?;
                let name = upload.filename.as_deref().unwrap_or("audio");
                let message = format!("Uploaded \u{201c}{name}\u{201d} ({duration:.1} s)");
                logs::append(&mut tx, &caller, Entry::success("upload.complete", message).project(upload.project_id))
                    .await?;
                None
            }
            Examined::ChecksumMismatch(message) => {
                uploads::fail(&mut tx, id, &message, ErrorCode::ChecksumMismatch).await?;
                Some(Error::refused(ErrorCode::ChecksumMismatch, message))
            }
            Examined::NotAudio(message) => {
                uploads::fail(&mut tx, id, &message, ErrorCode::NotAudio).await?;
                logs::append(
                    &mut tx,
                    &caller,
                    Entry::warning("upload.refused", message.clone()).project(upload.project_id),
                )
                .await?;
                Some(Error::refused(ErrorCode::NotAudio, message))
            }
            Examined::Footage { key, poster, sha256, facts } => {
                match keep_footage(&mut tx, &caller, &upload, &key, &poster, &sha256, &facts).await? {
                    Kept::Listed => None,
                    Kept::AlreadyListed => {
                        unkept = vec![key, poster];
                        None
                    }
                    Kept::NoRoom(refusal) => {
                        unkept = vec![key, poster];
                        let message = refusal.detail().message;
                        uploads::fail(&mut tx, id, &message, ErrorCode::PlanLimit).await?;
                        refuse_footage(&mut tx, &caller, &upload, &message).await?;
                        Some(refusal)
                    }
                }
            }
            Examined::NotFootage(message) => {
                uploads::fail(&mut tx, id, &message, ErrorCode::NotFootage).await?;
                refuse_footage(&mut tx, &caller, &upload, &message).await?;
                Some(Error::refused(ErrorCode::NotFootage, message))
            }
        };
        tx.commit().await?;
        delete_parts(self.storage.as_ref(), id).await;
        for key in &unkept {
            delete_object(self.storage.as_ref(), &ObjectPath::from(key.as_str())).await;
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Joins the chunks into `temp`, checks the declared hash, decodes the file and, when it is
    /// audio, stores it under its final key. Touches no database.
    async fn examine(&self, upload: &Upload, temp: &std::path::Path) -> Result<Examined> {
        let sha256 = join_parts(self.storage.as_ref(), upload, temp).await?;
        if let Some(declared) = upload.declared_sha256.as_deref().filter(|d| *d != sha256) {
            return Ok(Examined::ChecksumMismatch(format!(
                "The file's SHA-256 is {sha256}, not the declared {declared}."
            )));
        }
        if upload.purpose.0 == Purpose::Footage {
            let poster_file = temp.with_extension("poster.jpg");
            let judged = media::examine_footage(temp, &poster_file).await;
            let kept = match judged {
                Ok(Judged::Footage(facts)) => {
                    let (key, poster) = footage_keys(upload, &facts.extension);
                    let stored = async {
                        store_file(self.storage.as_ref(), temp, &key).await?;
                        store_file(self.storage.as_ref(), &poster_file, &poster).await
                    }
                    .await;
                    stored.map(|()| Examined::Footage { key, poster, sha256, facts })
                }
                Ok(Judged::Refused(message)) => Ok(Examined::NotFootage(message)),
                Err(e) => Err(e),
            };
            let _ = std::fs::remove_file(&poster_file);
            return kept;
        }
        let path = temp.to_owned();
        let probed = tokio::task::spawn_blocking(move || resonance_audio::probe(&path, &mut []))
            .await
            .map_err(|e| Error::Invariant(format!("the audio probe failed: {e}")))?;
        let facts = match probed {
            Ok(facts) => facts,
            Err(e) => {
                return Ok(Examined::NotAudio(format!(
                    "This file is not audio we can decode ({}: {}).",
                    e.kind, e.message
                )))
            }
        };
        let key = object_key(upload, &sha256, extension(&facts.container));
        store_file(self.storage.as_ref(), temp, &key).await?;
        Ok(Examined::Audio { key, sha256, duration: facts.duration_seconds })
    }

    /// Cancels an upload and deletes what it stored (a finished one stays kept).
    pub async fn terminate(&self, claims: &AccessClaims, id: Uuid) -> Result<()> {
        let (mut tx, _caller) = self.db.begin_for(claims).await?;
        let upload = uploads::get(&mut tx, id, true).await?;
        if upload.state == TransferState::Terminated {
            return Err(Error::not_found("This upload was already cancelled."));
        }
        if upload.state == TransferState::Receiving {
            uploads::terminate(&mut tx, id).await?;
        }
        tx.commit().await?;
        delete_parts(self.storage.as_ref(), id).await;
        Ok(())
    }
}

/// A request's claim on an upload, taken by [`Uploads::claim`]: no other request sends to it
/// while it lasts. Released when the request ends without moving the upload (also when the
/// client goes away and the request is dropped).
pub struct Claimed {
    uploads: Uploads,
    claims: AccessClaims,
    id: Uuid,
    holder: Uuid,
    released: bool,
    /// The upload as it stood when claimed.
    pub upload: Upload,
}

impl Claimed {
    async fn renew(&self) -> Result<()> {
        let (mut tx, _caller) = self.uploads.db.begin_for(&self.claims).await?;
        uploads::renew_patch(&mut tx, self.id, self.holder).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release(mut self) {
        self.released = true;
        self.uploads.release(&self.claims, self.id, self.holder).await;
    }

    /// The offset moved: the claim ended with it.
    fn done(mut self) {
        self.released = true;
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if !self.released {
            let (uploads, claims, id, holder) = (self.uploads.clone(), self.claims.clone(), self.id, self.holder);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { uploads.release(&claims, id, holder).await });
            }
        }
    }
}

/// The digest a chunk must match (tus `Upload-Checksum`).
pub struct Checksum {
    hasher: ChunkHasher,
    expected: Vec<u8>,
}

enum ChunkHasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksum {
    /// The digest a chunk must have, by its algorithm's name (`sha1` or `sha256`); `None` for
    /// another algorithm. A digest of another length than [`Checksum::digest_len`] never
    /// matches: the caller refuses it first, to say why.
    pub fn new(algorithm: &str, expected: Vec<u8>) -> Option<Self> {
        let hasher = match algorithm {
            "sha1" => ChunkHasher::Sha1(sha1::Sha1::new()),
            "sha256" => ChunkHasher::Sha256(sha2::Sha256::new()),
            _ => return None,
        };
        Some(Self { hasher, expected })
    }

    /// The length in bytes of a digest by `algorithm`, when it is one this server checks.
    pub fn digest_len(algorithm: &str) -> Option<usize> {
        match algorithm {
            "sha1" => Some(20),
            "sha256" => Some(32),
            _ => None,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            ChunkHasher::Sha1(h) => h.update(bytes),
            ChunkHasher::Sha256(h) => h.update(bytes),
        }
    }

    fn matches(self) -> bool {
        let digest = match self.hasher {
            ChunkHasher::Sha1(h) => h.finalize().to_vec(),
            ChunkHasher::Sha256(h) => h.finalize().to_vec(),
        };
        digest == self.expected
    }
}

/// The upload completed as a copy of `item`, listed with its facts.
async fn list_copy(
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    item: &resonance_api::model::Footage,
    (key, poster): (&str, &str),
    ext: &str,
) -> Result<()> {
    uploads::complete(tx, upload.id, key, &item.sha256, item.duration).await?;
    let facts = resonance_api::footage::FootageFacts {
        kind: item.kind,
        duration: item.duration,
        width: u32::try_from(item.width).unwrap_or(0),
        height: u32::try_from(item.height).unwrap_or(0),
        codec: item.codec.clone(),
        extension: ext.to_owned(),
    };
    let new = NewFootage {
        id: upload.id,
        project_id: upload.project_id,
        filename: upload.filename.as_deref().or(item.filename.as_deref()),
        object_key: key,
        poster_key: poster,
        sha256: &item.sha256,
        size: item.size,
        facts: &facts,
    };
    footage::insert(tx, caller, &new).await?;
    Ok(())
}

/// Refuses requests on an upload that cannot take them.
fn check_open(upload: &Upload) -> Result<()> {
    match upload.state {
        TransferState::Terminated => Err(Error::not_found("This upload was cancelled.")),
        TransferState::Failed => Err(match (upload.refusal.0, upload.error.as_deref()) {
            // Asked again, a refusal says what it said the first time.
            (Some(code), Some(message)) => Error::refused(code, format!("This upload was refused: {message}")),
            _ => Error::refused(ErrorCode::NotAudio, "This upload was refused: the file is not audio we can decode."),
        }),
        TransferState::Receiving if upload.expires_at <= chrono::Utc::now() => Err(Error::refused(
            ErrorCode::UploadExpired,
            "This upload expired before it was finished; start a new one.",
        )),
        _ => Ok(()),
    }
}

/// How finished footage was kept.
enum Kept {
    Listed,
    /// The project already lists these bytes (two uploads of one file raced): the upload is that
    /// item, and the copy just stored is not needed.
    AlreadyListed,
    /// The plan's room ran out while the file was sent.
    NoRoom(Error),
}

/// Lists judged footage in its project, in the caller's transaction, unless it is there already
/// or does not fit (checked under the organization's lock, inside a savepoint so a refusal leaves
/// the transaction usable).
async fn keep_footage(
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    key: &str,
    poster: &str,
    sha256: &str,
    facts: &resonance_api::footage::FootageFacts,
) -> Result<Kept> {
    if let Some(item) = footage::with_bytes(tx, upload.project_id, sha256, upload.length).await? {
        if item.project_id == upload.project_id {
            uploads::complete(tx, upload.id, &item.object_key, sha256, item.duration).await?;
            return Ok(Kept::AlreadyListed);
        }
    }
    sqlx::query("SAVEPOINT footage_room").execute(&mut **tx).await?;
    if let Err(e) = footage::room(tx, 1, upload.length).await {
        let detail = e.detail();
        if detail.code != ErrorCode::PlanLimit {
            return Err(e);
        }
        sqlx::query("ROLLBACK TO SAVEPOINT footage_room").execute(&mut **tx).await?;
        return Ok(Kept::NoRoom(Error::refused(ErrorCode::PlanLimit, detail.message)));
    }
    uploads::complete(tx, upload.id, key, sha256, facts.duration).await?;
    let new = NewFootage {
        id: upload.id,
        project_id: upload.project_id,
        filename: upload.filename.as_deref(),
        object_key: key,
        poster_key: poster,
        sha256,
        size: upload.length,
        facts,
    };
    footage::insert(tx, caller, &new).await?;
    Ok(Kept::Listed)
}

async fn refuse_footage(
    tx: &mut crate::db::Tx,
    caller: &crate::db::Caller,
    upload: &Upload,
    message: &str,
) -> Result<()> {
    let name = upload.filename.as_deref().unwrap_or("the file");
    logs::append(
        tx,
        caller,
        Entry::warning("footage.refused", format!("Refused \u{201c}{name}\u{201d} as footage: {message}"))
            .project(upload.project_id),
    )
    .await
}

/// What a whole upload turned out to be.
enum Examined {
    /// Audio, kept under its final key.
    Audio {
        key: String,
        sha256: String,
        duration: f64,
    },
    ChecksumMismatch(String),
    NotAudio(String),
    /// Footage, kept under its folder (the file and its poster).
    Footage {
        key: String,
        poster: String,
        sha256: String,
        facts: resonance_api::footage::FootageFacts,
    },
    NotFootage(String),
}

/// Writes the chunks in order into `temp` and returns the file's SHA-256 (hex).
async fn join_parts(storage: &dyn ObjectStore, upload: &Upload, temp: &std::path::Path) -> Result<String> {
    use tokio::io::AsyncWriteExt as _;
    // Async file writes: many uploads finishing at once must not hold the runtime's threads.
    let mut file = tokio::fs::File::create(temp).await?;
    let mut hasher = sha2::Sha256::new();
    for part in &upload.parts {
        let mut bytes = storage.get(&ObjectPath::from(part.as_str())).await?.into_stream();
        while let Some(piece) = bytes.next().await {
            let piece = piece?;
            hasher.update(&piece);
            file.write_all(&piece).await?;
        }
    }
    file.flush().await?;
    Ok(hex::encode(hasher.finalize()))
}

/// Copies the joined file into storage under `key`, a few parts in flight at a time.
async fn store_file(storage: &dyn ObjectStore, temp: &std::path::Path, key: &str) -> Result<()> {
    use tokio::io::AsyncReadExt as _;
    let upload = storage.put_multipart(&ObjectPath::from(key)).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut file = tokio::fs::File::open(temp).await?;
    let mut buf = vec![0u8; PART_BYTES];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(2).await?;
        writer.write(&buf[..n]);
    }
    writer.finish().await?;
    Ok(())
}

async fn delete_object(storage: &dyn ObjectStore, key: &ObjectPath) {
    if let Err(e) = storage.delete(key).await {
        tracing::warn!(error = %e, "could not delete an upload chunk; the upload's cleanup will");
    }
}

fn part_key(id: Uuid, offset: i64) -> ObjectPath {
    ObjectPath::from(format!("_uploads/{id}/{offset:020}-{}", Uuid::new_v4().simple()))
}

/// Where a finished audio file is kept: `<organization>/<project>/<sha256>.<ext>`.
fn object_key(upload: &Upload, sha256: &str, ext: &str) -> String {
    format!("{}/{}/{sha256}.{ext}", upload.organization_id, upload.project_id)
}

/// Where a footage item is kept: its own folder, `<organization>/<project>/footage/<id>/`,
/// holding `source.<ext>` and `poster.jpg` (deleting the item deletes the folder).
fn footage_keys(upload: &Upload, ext: &str) -> (String, String) {
    let folder = format!("{}/{}/footage/{}", upload.organization_id, upload.project_id, upload.id);
    (format!("{folder}/source.{ext}"), format!("{folder}/poster.jpg"))
}

fn extension(container: &str) -> &'static str {
    match container {
        "mp3" => "mp3",
        "mp4" => "m4a",
        "flac" => "flac",
        "wav" => "wav",
        "ogg" => "ogg",
        "webm" => "webm",
        "matroska" => "mka",
        "aiff" => "aiff",
        _ => "audio",
    }
}

/// Deletes whatever is stored under the upload's staging prefix (its chunks, and any orphan of a
/// chunk that lost a race).
async fn delete_parts(storage: &dyn ObjectStore, id: Uuid) {
    let prefix = ObjectPath::from(format!("_uploads/{id}"));
    let mut listing = storage.list(Some(&prefix));
    while let Some(Ok(meta)) = listing.next().await {
        if let Err(e) = storage.delete(&meta.location).await {
            tracing::warn!(error = %e, "could not delete an upload chunk; it will be retried with the upload's cleanup");
        }
    }
}

/// Deletes the chunks of uploads that expired unfinished, and marks them so (maintenance; runs
/// as the connecting role, across organizations).
pub async fn forget_expired_uploads(db: &crate::db::Db, storage: &dyn ObjectStore) {
    let expired: Vec<Uuid> = match sqlx::query_scalar(
        "UPDATE uploads SET state = 'terminated', error = 'expired', updated_at = now() \
         WHERE state = 'receiving' AND expires_at < now() RETURNING id",
    )
    .fetch_all(db.pool())
    .await
    {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for expired uploads; will retry");
            return;
        }
    };
    for id in &expired {
        delete_parts(storage, *id).await;
    }
    if !expired.is_empty() {
        tracing::info!(count = expired.len(), "forgot expired uploads");
    }
}
