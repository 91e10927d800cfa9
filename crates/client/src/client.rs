//! `Client`: the signed-in account, its session and its mirror, and the operations the desktop
//! and the CLI offer. Invariant: reads come from the mirror and work offline; writes go through
//! the outbox; nothing of one account is visible while another is signed in.

use std::sync::Arc;

use reqwest::Method;
use resonance_api::auth::{ChangeRole, Invitation, InvitationPreview, InviteMember, SignUpRequest};
use resonance_api::generations::NewGeneration;
use resonance_api::model::Role;
use resonance_api::model::{Generation, Project};
use resonance_api::projects::{NewProject, ProjectPatch};
use resonance_api::sharing::{NewShareLink, ShareLifetime, ShareLink};
use resonance_api::Sensitive;
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::{Account, DataDir};
use crate::error::{ClientError, Result};
use crate::http::Http;
use crate::mirror::{LocalProject, Mirror, ProjectPage};
use crate::outbox::{self, DrainReport, Entry};
use crate::session::{read_json, Session, SignUp};
use crate::sync::{self, PullReport, SyncStatus};
use crate::uploads;

pub struct Client {
    data: DataDir,
    signed_in: Option<SignedIn>,
}

struct SignedIn {
    session: Arc<Session>,
    mirror: Arc<Mirror>,
}

/// What `sync` did: the queued changes sent, then the pull.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    pub sent: u32,
    pub conflicts: u32,
    pub waiting: u32,
    pub pages: u32,
    pub upserts: u64,
    pub deletes: u64,
    pub rebuilt: bool,
}

/// How a sign-up ended, as a shell shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SignedUp {
    /// The account exists and is signed in here.
    SignedIn { account: Account },
    /// The server sent a message to confirm the address first; sign in after opening its link.
    ConfirmEmail { message: String },
}

impl Client {
    /// Opens the data directory and the signed-in account's mirror, if someone is signed in.
    pub fn open(data: DataDir) -> Result<Self> {
        let signed_in = match data.current()? {
            Some(account) => Some(Self::attach(&data, account)?),
            None => None,
        };
        Ok(Self { data, signed_in })
    }

    fn attach(data: &DataDir, account: Account) -> Result<SignedIn> {
        let mirror = Arc::new(Mirror::open(&data.mirror_path(account.user_id))?);
        let http = Http::new(&account.server)?;
        Ok(SignedIn { session: Arc::new(Session::resume(http, data, account)), mirror })
    }

    fn signed_in(&self) -> Result<&SignedIn> {
        self.signed_in.as_ref().ok_or(ClientError::NotSignedIn)
    }

    pub fn account(&self) -> Result<&Account> {
        Ok(self.signed_in()?.session.account())
    }

    pub fn session(&self) -> Result<Arc<Session>> {
        Ok(self.signed_in()?.session.clone())
    }

    pub fn mirror(&self) -> Result<Arc<Mirror>> {
        Ok(self.signed_in()?.mirror.clone())
    }

    /// Signs in (replacing whoever was signed in here; their data stays on disk, unseen).
    pub async fn sign_in(&mut self, server: &str, email: &str, password: Sensitive<String>) -> Result<Account> {
        let http = Http::new(server)?;
        let session = Session::sign_in(http, &self.data, email, password).await?;
        let account = session.account().clone();
        let mirror = Arc::new(Mirror::open(&self.data.mirror_path(account.user_id))?);
        self.signed_in = Some(SignedIn { session: Arc::new(session), mirror });
        Ok(account)
    }

    /// Creates an account on `server` (a new organization, or joining one with an invitation)
    /// and signs it in here, unless the server first wants the address confirmed.
    pub async fn sign_up(&mut self, server: &str, request: SignUpRequest) -> Result<SignedUp> {
        let http = Http::new(server)?;
        match Session::sign_up(http, &self.data, request).await? {
            SignUp::SignedIn(session) => {
                let account = session.account().clone();
                let mirror = Arc::new(Mirror::open(&self.data.mirror_path(account.user_id))?);
                self.signed_in = Some(SignedIn { session: Arc::from(session), mirror });
                Ok(SignedUp::SignedIn { account })
            }
            SignUp::ConfirmEmail { message } => Ok(SignedUp::ConfirmEmail { message }),
        }
    }

    /// What an invitation code leads to on `server` (organization, address, role, inviter).
    pub async fn invitation(server: &str, code: &str) -> Result<InvitationPreview> {
        Session::invitation(&Http::new(server)?, code).await
    }

    /// The server each account signed in to on this machine, and the last one used.
    pub fn known_servers(&self) -> crate::accounts::KnownServers {
        self.data.servers()
    }

    /// Signs out: the session ends on the server when it is reachable, the tokens leave the
    /// keyring, and with `forget` this account's mirror and cache are deleted too.
    pub async fn sign_out(&mut self, forget: bool) -> Result<()> {
        let Some(SignedIn { session, mirror }) = self.signed_in.take() else { return Err(ClientError::NotSignedIn) };
        let (user, email) = (session.account().user_id, session.account().email.clone());
        let result = session.sign_out().await;
        self.data.clear_current()?;
        if forget {
            drop(mirror);
            self.data.forget(user)?;
            self.data.forget_server(&email);
        }
        result
    }

    /// Sends the queued changes, then pulls the server's.
    pub async fn sync(&self) -> Result<SyncReport> {
        let s = self.signed_in()?;
        let drained: DrainReport = outbox::drain(&s.session, &s.mirror, true).await?;
        let pulled: PullReport = sync::pull(&s.session, &s.mirror).await?;
        Ok(SyncReport {
            sent: drained.sent,
            conflicts: drained.conflicts,
            waiting: drained.waiting,
            pages: pulled.pages,
            upserts: pulled.upserts,
            deletes: pulled.deletes,
            rebuilt: pulled.rebuilt,
        })
    }

    /// Sends what is queued, if the server can be reached; never fails for being offline.
    pub async fn push_quietly(&self) -> Result<DrainReport> {
        let s = self.signed_in()?;
        match outbox::drain(&s.session, &s.mirror, false).await {
            Ok(r) => Ok(r),
            Err(e) if e.is_transient() => Ok(DrainReport { stopped_by: Some(e.to_string()), ..Default::default() }),
            Err(e) => Err(e),
        }
    }

    pub fn status(&self) -> Result<SyncStatus> {
        sync::status(&self.signed_in()?.mirror)
    }

    pub fn projects(&self, search: Option<&str>) -> Result<Vec<LocalProject>> {
        self.signed_in()?.mirror.projects(search)
    }

    /// One page of [`Client::projects`] and how many match (see [`Mirror::project_page`]).
    pub fn project_page(&self, search: Option<&str>, offset: u32, limit: u32) -> Result<ProjectPage> {
        self.signed_in()?.mirror.project_page(search, offset, Some(limit))
    }

    pub fn project(&self, id: Uuid) -> Result<Project> {
        self.signed_in()?
            .mirror
            .project(id)?
            .ok_or_else(|| ClientError::NotFound { what: "project", id: id.to_string() })
    }

    pub fn generations(&self, project: Uuid) -> Result<Vec<Generation>> {
        let s = self.signed_in()?;
        if s.mirror.project(project)?.is_none() {
            return Err(ClientError::NotFound { what: "project", id: project.to_string() });
        }
        s.mirror.generations(project)
    }

    pub fn create_project(&self, new: NewProject) -> Result<Project> {
        let s = self.signed_in()?;
        outbox::create_project(&s.mirror, s.session.account(), new)
    }

    /// Keeps the new-project form as it is now (see `drafts`).
    pub fn save_draft(&self, draft: crate::drafts::Draft) -> Result<crate::drafts::Draft> {
        crate::drafts::save(&self.signed_in()?.mirror, draft)
    }

    pub fn drafts(&self) -> Result<Vec<crate::drafts::Draft>> {
        crate::drafts::list(&self.signed_in()?.mirror)
    }

    pub fn draft(&self, id: Uuid) -> Result<crate::drafts::Draft> {
        crate::drafts::get(&self.signed_in()?.mirror, id)
    }

    pub fn discard_draft(&self, id: Uuid) -> Result<bool> {
        crate::drafts::discard(&self.signed_in()?.mirror, id)
    }

    /// Where the sample tracks are written (`<data dir>/samples`).
    pub fn samples_dir(&self) -> std::path::PathBuf {
        self.data.root().join("samples")
    }

    /// "Try a sample track": the first sample as a draft of a new project, its track written here.
    pub fn sample_draft(&self) -> Result<crate::drafts::Draft> {
        let mirror = &self.signed_in()?.mirror;
        let [first, ..] = crate::samples::all();
        let draft = first.draft(&self.samples_dir())?;
        crate::drafts::save(mirror, draft)
    }

    /// Files dropped outside the editor: one draft per track (see `drafts::start_from_files`).
    pub fn start_drafts(&self, paths: &[std::path::PathBuf]) -> Result<crate::drafts::StartedDrafts> {
        crate::drafts::start_from_files(&self.signed_in()?.mirror, paths)
    }

    pub fn edit_project(&self, id: Uuid, patch: ProjectPatch) -> Result<Project> {
        outbox::edit_project(&self.signed_in()?.mirror, id, patch)
    }

    pub fn delete_project(&self, id: Uuid) -> Result<()> {
        outbox::delete_project(&self.signed_in()?.mirror, id)
    }

    /// Starts a generation of `project` on the server (this needs the server: it is charged to
    /// the month's quota). One key for all attempts: a retry after a lost answer returns the same
    /// generation and is never charged twice. The new row goes into the mirror at once. `new`
    /// may re-use a seed and cover a part of the song (a trim).
    pub async fn start_generation(&self, project: Uuid, new: &NewGeneration) -> Result<Generation> {
        let s = self.signed_in()?;
        new.validate()?;
        let body = serde_json::to_value(new)?;
        let path = format!("/v1/projects/{project}/generations");
        let key = Uuid::new_v4();
        let mut attempt = 0;
        let generation: Generation = loop {
            attempt += 1;
            match s.session.request(Method::POST, &path, Some(&body), Some(key)).await {
                Ok(resp) => break read_json(resp).await?,
                Err(e) if e.is_transient() && attempt < 3 => {
                    tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        crate::mirror::store_generation(&s.mirror, &generation)?;
        Ok(generation)
    }

    /// Decodes and hashes an audio file (refusing what is not audio).
    pub fn probe_audio(&self, path: &std::path::Path) -> Result<resonance_audio::Facts> {
        uploads::probe(path)
    }

    /// Records an upload of `path` as `project`'s audio, to be sent by `run_upload`.
    pub fn record_upload(
        &self,
        project: Uuid,
        path: &std::path::Path,
        facts: &resonance_audio::Facts,
    ) -> Result<uploads::Upload> {
        uploads::record(&self.signed_in()?.mirror, project, path, &facts.sha256, uploads::UploadPurpose::Audio)
    }

    /// Reads and hashes a clip or still (refusing what is not footage); blocking.
    pub fn probe_footage(&self, path: &std::path::Path) -> Result<crate::footage::Probed> {
        crate::footage::probe(path)
    }

    /// Records an upload of `path` (probed) to `project`'s footage, to be sent by `run_upload`.
    pub fn record_footage(
        &self,
        project: Uuid,
        path: &std::path::Path,
        probed: &crate::footage::Probed,
    ) -> Result<uploads::Upload> {
        uploads::record(&self.signed_in()?.mirror, project, path, &probed.sha256, uploads::UploadPurpose::Footage)
    }

    /// Judges each file and records the upload of those that are footage new to `project`
    /// (blocking: it reads and hashes them); send each queued one with `run_upload`.
    pub fn offer_footage(&self, project: Uuid, paths: &[std::path::PathBuf]) -> Result<Vec<crate::footage::Offered>> {
        crate::footage::offer(&self.signed_in()?.mirror, project, paths)
    }

    /// A footage item's poster frame, from the media cache (offline too) or the server.
    pub async fn footage_poster(&self, id: Uuid) -> Result<std::path::PathBuf> {
        let s = self.signed_in()?;
        crate::media::fetch(&s.session, &s.mirror, id, crate::media::Kind::Poster).await
    }

    /// The project's footage from the mirror, in its order (offline too).
    pub fn footage(&self, project: Uuid) -> Result<Vec<resonance_api::model::Footage>> {
        self.signed_in()?.mirror.footage(project)
    }

    /// One footage item from the mirror.
    pub fn footage_item(&self, id: Uuid) -> Result<Option<resonance_api::model::Footage>> {
        self.signed_in()?.mirror.footage_item(id)
    }

    /// The project's footage as the server has it now (the mirror is brought up to it).
    pub async fn refresh_footage(&self, project: Uuid) -> Result<Vec<resonance_api::model::Footage>> {
        let s = self.signed_in()?;
        crate::footage::refresh(&s.session, &s.mirror, project).await
    }

    /// Moves a footage item or sets the part of a clip it uses; the project's list after it.
    pub async fn change_footage(
        &self,
        id: Uuid,
        patch: &resonance_api::footage::FootagePatch,
    ) -> Result<Vec<resonance_api::model::Footage>> {
        let s = self.signed_in()?;
        crate::footage::change(&s.session, &s.mirror, id, patch).await
    }

    /// Removes a footage item from its project.
    pub async fn remove_footage(&self, id: Uuid) -> Result<()> {
        let s = self.signed_in()?;
        crate::footage::remove(&s.session, &s.mirror, id).await
    }

    /// Sends an upload until done, paused (`pause` set) or left for later (offline).
    pub async fn run_upload(
        &self,
        id: Uuid,
        pause: &tokio::sync::watch::Receiver<bool>,
        progress: impl FnMut(uploads::Progress),
    ) -> Result<uploads::Outcome> {
        let s = self.signed_in()?;
        uploads::run(&s.session, &s.mirror, id, pause, progress).await
    }

    /// Marks a pending upload paused (see [`uploads::mark_paused`]).
    pub fn mark_upload_paused(&self, id: Uuid) -> Result<uploads::Upload> {
        uploads::mark_paused(&self.signed_in()?.mirror, id)
    }

    pub fn unpause_upload(&self, id: Uuid) -> Result<()> {
        uploads::unpause(&self.signed_in()?.mirror, id)
    }

    pub fn upload(&self, id: Uuid) -> Result<uploads::Upload> {
        uploads::get(&self.signed_in()?.mirror, id)
    }

    pub async fn cancel_upload(&self, id: Uuid) -> Result<()> {
        let s = self.signed_in()?;
        uploads::cancel(&s.session, &s.mirror, id).await
    }

    /// The file on this computer holding the project's audio, to preview it; see
    /// [`uploads::local_track`].
    pub fn project_track(&self, project: Uuid) -> Result<Option<std::path::PathBuf>> {
        uploads::local_track(&self.signed_in()?.mirror, project)
    }

    /// Uploads not finished yet.
    pub fn unfinished_uploads(&self) -> Result<Vec<uploads::Upload>> {
        uploads::unfinished(&self.signed_in()?.mirror)
    }

    /// Whether the server has the project yet (its create is not waiting in the outbox).
    pub fn on_server(&self, project: Uuid) -> Result<bool> {
        Ok(!self.outbox()?.iter().any(|e| e.project_id == project && e.kind == outbox::Kind::CreateProject))
    }

    /// Follows the server's events, keeping the mirror current and announcing each finished
    /// generation once through `notifier`. Returns only when the user must sign in again.
    pub async fn watch(
        &self,
        notifier: Arc<dyn crate::watcher::Notifier>,
        listener: Arc<dyn crate::watcher::Listener>,
    ) -> Result<()> {
        let s = self.signed_in()?;
        crate::watcher::watch(s.session.clone(), s.mirror.clone(), notifier, listener).await
    }

    /// A finished generation's video or thumbnail on disk: from the media cache (offline too),
    /// or downloaded into it.
    pub async fn media(&self, generation: Uuid, kind: crate::media::Kind) -> Result<std::path::PathBuf> {
        let s = self.signed_in()?;
        crate::media::fetch(&s.session, &s.mirror, generation, kind).await
    }

    /// Empties the media cache.
    pub fn clear_media_cache(&self) -> Result<()> {
        crate::media::clear(&self.signed_in()?.mirror)
    }

    /// The user saw this generation finish in the app: no notification for it.
    pub fn mark_generation_seen(&self, generation: Uuid) -> Result<()> {
        crate::watcher::mark_seen(&self.signed_in()?.mirror, generation)
    }

    /// Queued changes, conflicts included.
    pub fn outbox(&self) -> Result<Vec<Entry>> {
        outbox::entries(&self.signed_in()?.mirror)
    }

    pub fn discard_conflict(&self, entry: Uuid) -> Result<()> {
        outbox::discard(&self.signed_in()?.mirror, entry)
    }

    pub fn retry_conflict(&self, entry: Uuid, edited: Option<ProjectPatch>) -> Result<()> {
        let s = self.signed_in()?;
        outbox::retry(&s.mirror, s.session.account(), entry, edited)
    }

    /// The organization's members, from the mirror.
    pub fn members(&self) -> Result<Vec<resonance_api::model::User>> {
        self.signed_in()?.mirror.members()
    }

    /// The organization's newest activity, from the mirror.
    pub fn activity(&self, limit: u32) -> Result<Vec<resonance_api::model::SystemLog>> {
        self.signed_in()?.mirror.activity(limit)
    }

    /// The signed-in account's organization (plan, subscription, usage), from the mirror.
    pub fn organization(&self) -> Result<Option<resonance_api::model::Organization>> {
        let s = self.signed_in()?;
        s.mirror.organization(s.session.account().organization_id)
    }

    /// Invites `email` with `role` (admins only; needs the server). The answer carries the
    /// invitation code, shown once, to hand to the invitee.
    pub async fn invite_member(&self, email: &str, role: Role) -> Result<Invitation> {
        let s = self.signed_in()?;
        let body = serde_json::to_value(InviteMember { email: email.to_owned(), role })?;
        let resp = s.session.request(Method::POST, "/v1/members", Some(&body), None).await?;
        read_json(resp).await
    }

    /// Opens a Stripe Checkout session for a paid plan (owners only; needs the server) and
    /// returns the page to open in the browser. The plan itself changes when Stripe confirms,
    /// and arrives through sync.
    pub async fn billing_checkout(&self, plan: &str) -> Result<String> {
        let s = self.signed_in()?;
        let body = serde_json::to_value(resonance_api::plans::CheckoutRequest { plan: plan.to_owned() })?;
        let resp = s.session.request(Method::POST, "/v1/billing/checkout", Some(&body), None).await?;
        let session: resonance_api::plans::BillingSession = read_json(resp).await?;
        stripe_page(session.url)
    }

    /// Opens Stripe's Billing Portal for the organization (owners only); returns its page.
    pub async fn billing_portal(&self) -> Result<String> {
        let s = self.signed_in()?;
        let resp = s.session.request(Method::POST, "/v1/billing/portal", Some(&serde_json::json!({})), None).await?;
        let session: resonance_api::plans::BillingSession = read_json(resp).await?;
        stripe_page(session.url)
    }

    /// Changes a member's role (admins only; needs the server), then brings the mirror up to date.
    pub async fn change_role(&self, user: Uuid, role: Role) -> Result<()> {
        let s = self.signed_in()?;
        let body = serde_json::to_value(ChangeRole { role })?;
        let resp = s.session.request(Method::PATCH, &format!("/v1/members/{user}"), Some(&body), None).await?;
        let _: resonance_api::model::User = read_json(resp).await?;
        sync::pull(&s.session, &s.mirror).await.map(|_| ())
    }

    /// Writes a finished generation's video re-encoded with `preset` to `dest`, on this machine
    /// (from the media cache, fetched first if needed; offline once cached). Never costs quota.
    pub async fn export(
        &self,
        generation: Uuid,
        preset: crate::export::Preset,
        dest: &std::path::Path,
        progress: impl Fn(f64),
    ) -> Result<std::path::PathBuf> {
        let master = self.media(generation, crate::media::Kind::Video).await?;
        crate::export::run(&master, preset, dest, progress).await
    }

    /// A generation's share links with their state, newest first (needs the server).
    pub async fn share_links(&self, generation: Uuid) -> Result<Vec<ShareLink>> {
        self.signed_in()?.session.get(&format!("/v1/generations/{generation}/share-links")).await
    }

    /// Makes a link that plays this finished video without an account for `lifetime` (admins
    /// and the generation's author; needs the server).
    pub async fn create_share_link(&self, generation: Uuid, lifetime: ShareLifetime) -> Result<ShareLink> {
        let s = self.signed_in()?;
        let body = serde_json::to_value(NewShareLink { days: lifetime })?;
        let path = format!("/v1/generations/{generation}/share-links");
        read_json(s.session.request(Method::POST, &path, Some(&body), None).await?).await
    }

    /// Turns a share link off for good (needs the server).
    pub async fn revoke_share_link(&self, link: Uuid) -> Result<ShareLink> {
        let s = self.signed_in()?;
        read_json(s.session.request(Method::DELETE, &format!("/v1/share-links/{link}"), None, None).await?).await
    }

    /// Removes a member (admins only; needs the server), then brings the mirror up to date.
    pub async fn remove_member(&self, user: Uuid) -> Result<()> {
        let s = self.signed_in()?;
        s.session.request(Method::DELETE, &format!("/v1/members/{user}"), None, None).await?;
        sync::pull(&s.session, &s.mirror).await.map(|_| ())
    }
}

/// Stripe's own pages, where billing links lead.
const STRIPE_HOSTS: [&str; 2] = ["checkout.stripe.com", "billing.stripe.com"];

/// A billing link from the server, if it is an https page of Stripe's: anything else (another
/// scheme such as `file:`, another host, credentials or a port in the link) is refused before it
/// reaches the browser, so a hostile server or a tampered plain-http answer cannot make the app
/// open it. The refusal names only the scheme and host: the link itself is a secret.
fn stripe_page(url: String) -> Result<String> {
    let shown = |u: &reqwest::Url| format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
    let parsed = reqwest::Url::parse(&url).map_err(|_| ClientError::UntrustedLink { shown: "not a link".into() })?;
    let trusted = parsed.scheme() == "https"
        && parsed.host_str().is_some_and(|h| STRIPE_HOSTS.contains(&h))
        && parsed.port().is_none()
        && parsed.username().is_empty()
        && parsed.password().is_none();
    if trusted {
        Ok(url)
    } else {
        Err(ClientError::UntrustedLink { shown: shown(&parsed) })
    }
}

#[cfg(test)]
mod billing_link_tests {
    use super::*;

    #[test]
    fn only_https_stripe_pages_are_opened() {
        for ok in ["https://checkout.stripe.com/c/pay/cs_test_1", "https://billing.stripe.com/p/session/test_2"] {
            assert_eq!(stripe_page(ok.into()).unwrap(), ok);
        }
        for bad in [
            "file:///etc/passwd",
            "http://checkout.stripe.com/c/pay/cs_test_1",
            "https://checkout.stripe.com.evil.example/c/pay",
            "https://evil.example/?checkout.stripe.com",
            "https://user:pw@checkout.stripe.com/c/pay",
            "https://checkout.stripe.com:8443/c/pay",
            "javascript:alert(1)",
            "smb://checkout.stripe.com/share",
            "not a url",
        ] {
            let e = stripe_page(bad.into()).expect_err(bad);
            assert!(matches!(e, ClientError::UntrustedLink { .. }), "{bad}: {e}");
            assert!(!e.to_string().contains("/c/pay"), "the refusal does not echo the link: {e}");
        }
    }
}
