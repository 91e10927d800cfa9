//! `resonance`: the command-line shell over resonance-client. Reads work offline from the local
//! mirror; writes are made locally, queued, and sent when the server can be reached.
//!
//! Exit codes: 0 done; 1 failed; 2 bad usage; 3 not signed in (or signed out by the server);
//! 4 the server cannot be reached; 5 refused (by the server, or invalid input); 6 no OS keyring;
//! 7 no such thing here; 8 wrong e-mail or password; 9 the render failed (`generate --wait`);
//! 10 the server needs a newer `resonance` (the message says how to update).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use resonance_api::auth::SignUpRequest;
use resonance_api::generations::{format_clock, NewGeneration};
use resonance_api::model::{AspectRatio, Resolution, StylePreference};
use resonance_api::projects::{NewProject, ProjectPatch};
use resonance_api::sharing::ShareLifetime;
use resonance_api::Sensitive;
use resonance_client::export::Preset;
use resonance_client::watcher::{Listener, Notification, Notifier};
use resonance_client::{Account, Client, ClientError, DataDir, SignedUp, DEFAULT_SERVER};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "resonance", version, about = "Resonance from the command line: projects, generations and sync")]
#[command(after_help = "Exit codes: 0 done, 1 failed, 2 bad usage, 3 not signed in, 4 server unreachable, \
5 refused or invalid, 6 no OS keyring, 7 not found, 8 wrong e-mail or password, 9 render failed, \
10 update needed.")]
struct Cli {
    /// The Resonance server (used by `login`, `signup` and `join`; later commands use the
    /// signed-in account's). Default: the server this e-mail last signed in to here, else the
    /// last one used, else the one this build names.
    #[arg(long, global = true, env = "RESONANCE_SERVER")]
    server: Option<String>,
    /// Where local data lives (default: the platform's data directory).
    #[arg(long, global = true, env = "RESONANCE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Signs in; the session is kept in the OS keyring.
    Login {
        email: String,
        /// Read the password from standard input instead of asking for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Creates an account and a new organization you own, and signs in.
    Signup {
        email: String,
        /// Your name, as other members see it.
        #[arg(long)]
        name: String,
        /// The new organization's name.
        #[arg(long)]
        organization: String,
        /// Read the password from standard input instead of asking for it (twice).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Accepts an invitation: shows where it leads, creates your account there and signs in.
    Join {
        /// The invitation code (or the whole resonance://invite/… link).
        code: String,
        /// Your name, as other members see it.
        #[arg(long)]
        name: String,
        /// The address the invitation was sent to (default: the invitation's).
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input instead of asking for it (twice).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Signs out (and with --forget, deletes this account's local data).
    Logout {
        #[arg(long)]
        forget: bool,
    },
    /// Who is signed in, where.
    Whoami,
    /// Sends queued changes, then pulls the server's.
    Sync,
    /// Sync state, queued changes and conflicts.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Lists projects (from the local mirror).
    Projects {
        #[arg(long)]
        json: bool,
        /// Only projects whose name or prompt contains this.
        #[arg(long)]
        search: Option<String>,
    },
    /// Creates, edits or deletes a project.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Adds the sample projects (tracks made by Resonance itself, CC0, each with a prompt and a
    /// look that suit it) and uploads their tracks; those already here by name are left as they
    /// are. With --generate, starts a render of each sample project it added.
    Samples {
        #[arg(long)]
        generate: bool,
    },
    /// Starts a generation of a project (needs the server; counts against the month's quota).
    Generate {
        project: Uuid,
        /// Re-render with the seed of an earlier generation.
        #[arg(long)]
        seed: Option<String>,
        /// Render only a part of the song, from this time (seconds, or minutes:seconds as in 0:40).
        #[arg(long, value_parser = song_time)]
        from: Option<f64>,
        /// Render only a part of the song, up to this time (seconds, or minutes:seconds as in 1:00).
        #[arg(long, value_parser = song_time)]
        to: Option<f64>,
        /// Follow the render's stages; exit 0 when it completes, 9 when it fails.
        #[arg(long)]
        wait: bool,
    },
    /// Prints a notification for each render that finishes, as the desktop would show it.
    Watch,
    /// Prints the path of a finished render's video (or thumbnail) on disk, downloading it into
    /// the media cache first if needed; cached files work offline.
    Video {
        generation: Uuid,
        #[arg(long)]
        thumbnail: bool,
    },
    /// Writes a finished video re-encoded for where it goes, on this machine with ffmpeg from the
    /// media cache (offline once cached; never costs quota). Presets: as-rendered, youtube,
    /// vertical (Shorts, Reels, TikTok), canvas (Spotify Canvas), gif, webm.
    Export {
        generation: Uuid,
        #[arg(long, value_parser = export_preset)]
        preset: Preset,
        /// The file to write (the preset's extension is added if it has none).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Makes a link that plays a finished video without an account (admins and the
    /// generation's author), or with --list, shows its links and their state.
    Share {
        generation: Uuid,
        /// How long the link works: 1, 7 or 30 days.
        #[arg(long, default_value_t = 7, value_parser = share_days)]
        days: u32,
        #[arg(long)]
        list: bool,
        #[arg(long)]
        json: bool,
    },
    /// Turns a share link off for good (its page answers 410 from then on).
    Unshare { link: Uuid },
    /// Empties the media cache.
    ClearCache,
    /// Uploads a file as a project's audio (replacing it), resumably: run it again after an
    /// interruption and it continues where the server stands. Ctrl-C pauses.
    Upload {
        file: PathBuf,
        #[arg(long)]
        project: Uuid,
    },
    /// A project's footage: clips and stills the video is cut from.
    #[command(subcommand)]
    Footage(FootageCommand),
    /// Lists uploads not finished yet.
    Uploads {
        #[arg(long)]
        json: bool,
    },
    /// Cancels an unfinished upload.
    CancelUpload { upload: Uuid },
    /// Lists a project's generations (from the local mirror).
    Generations {
        project: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Lists changes the server refused, kept until resolved.
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// Resolves a conflict: --discard keeps the server's version; --retry sends the local change
    /// again, edited by the given fields.
    Resolve {
        entry: Uuid,
        #[arg(long, conflicts_with = "retry", required_unless_present = "retry")]
        discard: bool,
        #[arg(long)]
        retry: bool,
        #[command(flatten)]
        fields: Fields,
    },
}

/// A 25-character bar for a percentage on the terminal.
fn meter(percent: u64) -> String {
    let filled = (percent.min(100) / 4) as usize;
    "#".repeat(filled) + &".".repeat(25 - filled)
}

/// `--preset`: one of the export presets, by name.
fn export_preset(value: &str) -> Result<Preset, String> {
    Preset::from_id(value).ok_or_else(|| {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.id()).collect();
        format!("{value} is not a preset; choose one of {}", names.join(", "))
    })
}

/// `--days`: one of the lifetimes a share link may have.
fn share_days(value: &str) -> Result<u32, String> {
    let days: u32 = value.parse().map_err(|_| format!("{value} is not a number of days"))?;
    ShareLifetime::try_from(days).map(u32::from)
}

#[derive(Subcommand)]
enum FootageCommand {
    /// Adds clips (MP4, MOV, WebM, MKV: H.264, HEVC, VP9, AV1) and stills (JPEG, PNG, WebP) to a
    /// project's footage, resumably; what is not footage is refused before a byte is sent.
    Add {
        project: Uuid,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Lists a project's footage in its order (from the local mirror; offline too).
    List {
        project: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Moves an item to a place in its project's list (1 is first).
    Move {
        item: Uuid,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        to: u32,
    },
    /// Sets the part of a clip to use (seconds, or minutes:seconds), or with --clear, all of it.
    Trim {
        item: Uuid,
        #[arg(long = "in", value_parser = song_time)]
        in_point: Option<f64>,
        #[arg(long = "out", value_parser = song_time)]
        out_point: Option<f64>,
        #[arg(long, conflicts_with_all = ["in_point", "out_point"], required_unless_present_any = ["in_point", "out_point"])]
        clear: bool,
    },
    /// Removes an item from its project (its files are deleted on the server).
    Rm { item: Uuid },
}

/// One line of `resonance footage list`.
fn footage_line(f: &resonance_api::model::Footage) -> String {
    let what = match f.duration {
        Some(d) => format!("clip  {:>7}", format_clock(d)),
        None => "still        ".to_owned(),
    };
    let part = match f.span().filter(|_| f.in_point.is_some() || f.out_point.is_some()) {
        Some((from, to)) => format!("  uses {}–{}", format_clock(from), format_clock(to)),
        None => String::new(),
    };
    format!(
        "{:>2}  {what}  {:>4}×{:<4}  {:<5} {:>8.1} MB  {}  {}{part}",
        f.position + 1,
        f.width,
        f.height,
        f.codec,
        f.size as f64 / 1e6,
        f.id,
        f.filename.as_deref().unwrap_or("(unnamed)"),
    )
}

#[derive(Subcommand)]
enum ProjectCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        prompt: String,
        /// The track: probed here (a file that is not audio is refused before anything is sent).
        #[arg(long)]
        audio: PathBuf,
        #[command(flatten)]
        look: Look,
        /// Choose the project's id (a retried script then never makes two).
        #[arg(long)]
        id: Option<Uuid>,
    },
    Edit {
        id: Uuid,
        #[command(flatten)]
        fields: Fields,
    },
    Delete {
        id: Uuid,
    },
}

/// What a project looks like, besides its name and prompt.
#[derive(Args, Default)]
struct Look {
    #[arg(long)]
    description: Option<String>,
    #[arg(long, value_parser = parse_resolution)]
    resolution: Option<Resolution>,
    #[arg(long, value_parser = parse_style)]
    style: Option<StylePreference>,
    /// How much of the generated footage shows through, 0 to 1.
    #[arg(long)]
    footage_visibility: Option<f64>,
    /// How strongly effects follow the music, 0 to 1.
    #[arg(long)]
    effect_intensity: Option<f64>,
    /// The track's tempo in beats per minute, when the detected one is wrong (renders follow
    /// it); in `project edit`, 0 returns to the detected tempo.
    #[arg(long)]
    tempo_bpm: Option<f64>,
    /// The shape of the renders: 16:9 (YouTube), 9:16 (Shorts, Reels, TikTok), 1:1 or 4:5
    /// (Instagram). The resolution names the short edge.
    #[arg(long, value_parser = parse_aspect)]
    aspect: Option<AspectRatio>,
}

#[derive(Args, Default)]
struct Fields {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    prompt: Option<String>,
    #[command(flatten)]
    look: Look,
}

impl Fields {
    fn patch(&self) -> ProjectPatch {
        ProjectPatch {
            name: self.name.clone(),
            description: self.look.description.clone(),
            prompt: self.prompt.clone(),
            resolution: self.look.resolution,
            style_preference: self.look.style,
            footage_visibility: self.look.footage_visibility,
            effect_intensity: self.look.effect_intensity,
            tempo_bpm: self.look.tempo_bpm,
            aspect: self.look.aspect,
            ..ProjectPatch::default()
        }
    }
}

fn parse_resolution(s: &str) -> Result<Resolution, String> {
    Resolution::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("one of {}", Resolution::ALL.map(Resolution::as_str).join(", ")))
}

fn parse_aspect(s: &str) -> Result<AspectRatio, String> {
    AspectRatio::parse(s).ok_or_else(|| format!("one of {}", AspectRatio::ALL.map(AspectRatio::as_str).join(", ")))
}

/// `--from`, `--to`: a time in the song.
fn song_time(s: &str) -> Result<f64, String> {
    resonance_api::generations::parse_clock(s)
        .ok_or_else(|| format!("{s} is not a time in the song; write seconds (40) or minutes:seconds (0:40)"))
}

fn parse_style(s: &str) -> Result<StylePreference, String> {
    StylePreference::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("one of {}", StylePreference::ALL.map(StylePreference::as_str).join(", ")))
}

fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(e) = e.downcast_ref::<ClientError>() {
        return match e {
            ClientError::NotSignedIn | ClientError::SignedOut | ClientError::Removed { .. } => 3,
            ClientError::Offline { .. } => 4,
            ClientError::Refused { status: 404, .. } | ClientError::NotFound { .. } => 7,
            ClientError::Refused { .. } | ClientError::Invalid { .. } => 5,
            ClientError::NoKeyring(_) => 6,
            ClientError::WrongCredentials => 8,
            ClientError::UpdateRequired { .. } => 10,
            _ => 1,
        };
    }
    if e.downcast_ref::<RenderFailed>().is_some() {
        return 9;
    }
    if let Some(e) = e.downcast_ref::<resonance_audio::AudioError>() {
        tracing::debug!(kind = %e.kind, "audio refused");
        return 5;
    }
    1
}

/// A new password: from standard input, or asked twice on the terminal with the rules checked
/// before the second prompt.
fn read_new_password(from_stdin: bool) -> anyhow::Result<Sensitive<String>> {
    let password = read_password(from_stdin)?;
    resonance_api::auth::validate_password(password.reveal()).map_err(ClientError::from)?;
    if !from_stdin {
        let again = rpassword::prompt_password("Repeat the password: ")?;
        if again != *password.reveal() {
            return Err(
                ClientError::Invalid { field: "password".into(), message: "the two passwords differ".into() }.into()
            );
        }
    }
    Ok(password)
}

fn read_password(from_stdin: bool) -> anyhow::Result<Sensitive<String>> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        anyhow::bail!("no terminal to ask for the password on; pass --password-stdin and write it to standard input");
    };
    Ok(Sensitive::new(password))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The CLI's notifications: one line each on standard output.
struct Printer;

impl Notifier for Printer {
    fn notify(&self, n: &Notification) {
        match &n.error {
            Some(e) if !n.completed => println!("{}: {e} ({})", n.title(), n.generation_id),
            _ => println!("{} ({})", n.title(), n.generation_id),
        }
    }
}

/// Follows one generation: its stages and progress on standard error, then its end.
async fn wait_for(client: &Client, generation: Uuid) -> anyhow::Result<()> {
    struct Stages(Uuid, std::sync::Mutex<String>);
    impl Listener for Stages {
        fn event(&self, e: &resonance_api::events::Event) {
            use resonance_api::events::EventChange;
            let line = match e.change {
                EventChange::Progress { progress } if e.subject_id == self.0 => {
                    format!("rendering {:.0}%", progress * 100.0)
                }
                EventChange::Project { status } => status.as_str().to_owned(),
                _ => return,
            };
            let mut last = self.1.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last != line {
                eprintln!("  {line}");
                *last = line;
            }
        }
    }
    struct Until(Uuid, std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Notification>>>);
    impl Notifier for Until {
        fn notify(&self, n: &Notification) {
            if n.generation_id == self.0 {
                if let Some(tx) = self.1.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
                    let _ = tx.send(n.clone());
                }
            } else {
                Printer.notify(n);
            }
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let until = Arc::new(Until(generation, std::sync::Mutex::new(Some(tx))));
    let stages = Arc::new(Stages(generation, std::sync::Mutex::new(String::new())));
    let finished = tokio::select! {
        r = client.watch(until, stages) => { r?; anyhow::bail!("stopped watching") }
        n = rx => n?,
    };
    if finished.completed {
        println!("{}", finished.title());
        Ok(())
    } else {
        Err(anyhow::Error::new(RenderFailed(format!("{}: {}", finished.title(), finished.error.unwrap_or_default()))))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RenderFailed(String);

/// An upload's progress line on a terminal.
struct ProgressLine {
    name: String,
}

impl resonance_client::uploader::UploadListener for ProgressLine {
    fn report(&self, r: &resonance_client::uploader::Report) {
        if r.phase == resonance_client::uploads::UploadPhase::Sending {
            let percent = (r.sent * 100).checked_div(r.upload.size).unwrap_or(100).min(100);
            eprint!(
                "\rUploading {} [{}] {percent:>3}% {:.1}/{:.1} MB",
                self.name,
                meter(percent),
                r.sent as f64 / 1e6,
                r.upload.size as f64 / 1e6
            );
        }
    }
}

/// Says nothing (stderr is not a terminal).
struct Quiet;

impl resonance_client::uploader::UploadListener for Quiet {
    fn report(&self, _: &resonance_client::uploader::Report) {}
}

/// Sends an upload once, with a progress line on a terminal; Ctrl-C pauses it.
async fn send_upload(client: &Client, id: Uuid) -> anyhow::Result<()> {
    use resonance_client::uploader::{send_once, Ended};
    let upload = client.upload(id)?;
    let name = upload.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (pause, paused) = tokio::sync::watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = pause.send(true);
        }
    });
    let terminal = std::io::stderr().is_terminal();
    let ended = if terminal {
        send_once(client, id, &paused, &ProgressLine { name: name.clone() }).await
    } else {
        send_once(client, id, &paused, &Quiet).await
    };
    ctrl_c.abort();
    if terminal {
        eprintln!();
    }
    match ended? {
        Ended::Done => eprintln!("Uploaded {name}."),
        Ended::Paused => eprintln!("Paused; run the same command again to resume from where it stands."),
        Ended::Waiting => eprintln!("The server cannot be reached; the upload resumes with the next `resonance sync`."),
    }
    Ok(())
}

/// Sends what was just queued when the server can be reached, and says where the change stands.
async fn push_and_report(client: &Client) -> anyhow::Result<()> {
    let report = client.push_quietly().await?;
    if report.conflicts > 0 {
        eprintln!("The server refused a change: see `resonance conflicts`.");
    } else if report.waiting > 0 {
        eprintln!(
            "Saved here; {} change(s) will be sent when the server can be reached{}.",
            report.waiting,
            report.stopped_by.map(|r| format!(" ({r})")).unwrap_or_default()
        );
    }
    Ok(())
}

/// The server to sign in or up at: `--server`, else where this e-mail (or the last account)
/// signed in here, else this build's default.
fn server_for(flag: &Option<String>, client: &Client, email: &str) -> String {
    match flag {
        Some(server) => server.clone(),
        None => client.known_servers().for_email(email).unwrap_or(DEFAULT_SERVER).to_owned(),
    }
}

async fn signed_in(client: &Client, account: &Account) {
    println!("Signed in as {} ({}, {}) at {}.", account.email, account.organization_name, account.role, account.server);
    match client.sync().await {
        Ok(r) => println!("Synced {} change(s).", r.upserts + r.deletes),
        Err(e) => eprintln!("Signed in, but the first sync failed: {e}"),
    }
}

async fn signed_up(outcome: &SignedUp, client: &Client) {
    match outcome {
        SignedUp::SignedIn { account } => {
            println!("Welcome to {}.", account.organization_name);
            signed_in(client, account).await;
        }
        SignedUp::ConfirmEmail { message } => println!("{message}"),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let data = DataDir::resolve(cli.data_dir.clone())?;
    let mut client = Client::open(data)?;
    match cli.command {
        Command::Login { email, password_stdin } => {
            let server = server_for(&cli.server, &client, &email);
            let password = read_password(password_stdin)?;
            let account = client.sign_in(&server, &email, password).await?;
            signed_in(&client, &account).await;
        }
        Command::Signup { email, name, organization, password_stdin } => {
            let server = server_for(&cli.server, &client, &email);
            let password = read_new_password(password_stdin)?;
            let request =
                SignUpRequest { email, password, name, organization_name: Some(organization), invite_token: None };
            signed_up(&client.sign_up(&server, request).await?, &client).await;
        }
        Command::Join { code, name, email, password_stdin } => {
            let server = server_for(&cli.server, &client, email.as_deref().unwrap_or_default());
            let invitation = Client::invitation(&server, &code).await?;
            println!(
                "{} invites {} to join {} as {}.",
                invitation.invited_by, invitation.email, invitation.organization_name, invitation.role
            );
            let password = read_new_password(password_stdin)?;
            let request = SignUpRequest {
                email: email.unwrap_or(invitation.email),
                password,
                name,
                organization_name: None,
                invite_token: Some(Sensitive::new(code)),
            };
            signed_up(&client.sign_up(&server, request).await?, &client).await;
        }
        Command::Logout { forget } => {
            client.sign_out(forget).await?;
            println!("{}", if forget { "Signed out; this account's local data is deleted." } else { "Signed out." });
        }
        Command::Whoami => {
            let a = client.account()?;
            println!("{} ({}) in {} as {:?}, at {}", a.email, a.user_id, a.organization_name, a.role, a.server);
        }
        Command::Sync => {
            let r = client.sync().await?;
            for upload in client.unfinished_uploads()? {
                if upload.state == resonance_client::uploads::UploadState::Pending
                    && client.on_server(upload.project_id)?
                {
                    send_upload(&client, upload.id).await?;
                }
            }
            println!(
                "Sent {} change(s); received {} change(s) in {} page(s){}.",
                r.sent,
                r.upserts + r.deletes,
                r.pages,
                if r.rebuilt { " (rebuilt from scratch)" } else { "" }
            );
            if r.conflicts > 0 {
                eprintln!("The server refused {} change(s): see `resonance conflicts`.", r.conflicts);
            }
        }
        Command::Status { json } => {
            let status = client.status()?;
            if json {
                print_json(&status)?;
            } else {
                println!("state: {:?}", status.state);
                println!("last successful sync: {}", status.last_success_at.as_deref().unwrap_or("never"));
                println!("pending changes: {}", status.pending_changes);
                println!("conflicts: {}", status.conflicts);
                if let Some(e) = status.last_error {
                    println!("last error: {e}");
                }
            }
        }
        Command::Projects { json, search } => {
            let projects = client.projects(search.as_deref())?;
            if json {
                print_json(&projects)?;
            } else {
                let mut out = std::io::stdout().lock();
                for p in &projects {
                    let mark = match (&p.conflict, p.pending_changes) {
                        (Some(_), _) => " [conflict]",
                        (None, 0) => "",
                        (None, _) => " [pending]",
                    };
                    let status = p.project.status.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default();
                    writeln!(out, "{}  {:<10} {}{mark}", p.project.id, status, p.project.name)?;
                }
            }
        }
        Command::Project(ProjectCommand::Create { name, prompt, audio, look, id }) => {
            let facts = client.probe_audio(&audio)?;
            let file_name = audio.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let project = client.create_project(NewProject {
                id: Some(id.unwrap_or_else(Uuid::new_v4)),
                name,
                description: look.description,
                prompt,
                audio_path: file_name,
                audio_duration: Some(facts.duration_seconds),
                resolution: look.resolution,
                style_preference: look.style,
                footage_visibility: look.footage_visibility,
                effect_intensity: look.effect_intensity,
                tempo_bpm: look.tempo_bpm,
                aspect: look.aspect,
            })?;
            let upload = client.record_upload(project.id, &audio, &facts)?;
            println!("{}", project.id);
            push_and_report(&client).await?;
            if client.on_server(project.id)? {
                send_upload(&client, upload.id).await?;
            } else {
                eprintln!("The audio will upload once the project reaches the server (resonance sync).");
            }
        }
        Command::Samples { generate } => {
            // The names already in the organization, as the server has them now.
            client.sync().await?;
            for sample in resonance_client::samples::all() {
                let title = sample.title();
                if client.projects(Some(title))?.iter().any(|p| p.project.name == title) {
                    eprintln!("“{title}” is already here.");
                    continue;
                }
                let file = sample.track_file(&client.samples_dir())?;
                let facts = client.probe_audio(&file)?;
                let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let project =
                    client.create_project(sample.new_project(Uuid::new_v4(), file_name, facts.duration_seconds))?;
                let upload = client.record_upload(project.id, &file, &facts)?;
                push_and_report(&client).await?;
                send_upload(&client, upload.id).await?;
                println!("{}", project.id);
                if generate {
                    let g = client.start_generation(project.id, &NewGeneration::default()).await?;
                    eprintln!("“{title}”: generation #{} queued.", g.generation_number.unwrap_or(0));
                }
            }
        }
        Command::Project(ProjectCommand::Edit { id, fields }) => {
            client.edit_project(id, fields.patch())?;
            push_and_report(&client).await?;
        }
        Command::Project(ProjectCommand::Delete { id }) => {
            client.delete_project(id)?;
            push_and_report(&client).await?;
        }
        Command::Generate { project, seed, from, to, wait } => {
            let new = NewGeneration { seed, trim_start: from, trim_end: to };
            let g = client.start_generation(project, &new).await?;
            println!("{}", g.id);
            eprintln!(
                "Started generation #{} with seed {}; it is queued for rendering.",
                g.generation_number.unwrap_or(0),
                g.seed
            );
            if wait {
                wait_for(&client, g.id).await?;
            }
        }
        Command::Video { generation, thumbnail } => {
            let kind =
                if thumbnail { resonance_client::media::Kind::Thumbnail } else { resonance_client::media::Kind::Video };
            println!("{}", client.media(generation, kind).await?.display());
        }
        Command::Export { generation, preset, output } => {
            let terminal = std::io::stderr().is_terminal();
            let export = client.export(generation, preset, &output, |done| {
                if terminal {
                    let percent = (done * 100.0).round() as u64;
                    eprint!("\rExporting ({}) [{}] {percent:>3}%", preset.id(), meter(percent));
                }
            });
            // Ctrl-C stops ffmpeg and removes the unfinished file (the export is dropped).
            let path = tokio::select! {
                path = export => path,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("\nExport cancelled; nothing was written.");
                    return Ok(());
                }
            };
            if terminal {
                eprintln!();
            }
            println!("{}", path?.display());
        }
        Command::Share { generation, days, list, json } => {
            let links = if list {
                client.share_links(generation).await?
            } else {
                let lifetime = ShareLifetime::try_from(days).map_err(|e| anyhow::anyhow!("--days {e}"))?;
                vec![client.create_share_link(generation, lifetime).await?]
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&links)?);
            } else if list && links.is_empty() {
                println!("This generation has no share links.");
            } else {
                for link in links {
                    let state = serde_json::to_value(link.state)?;
                    let until = link.expires_at.format("%Y-%m-%d %H:%M UTC");
                    println!("{}  {}  until {until}  {}", link.id, state.as_str().unwrap_or("?"), link.url);
                }
            }
        }
        Command::Unshare { link } => {
            let link = client.revoke_share_link(link).await?;
            println!("Turned off: {} answers 410 from now on.", link.url);
        }
        Command::ClearCache => {
            client.clear_media_cache()?;
            println!("The media cache is empty.");
        }
        Command::Watch => {
            eprintln!("Watching for finished renders; Ctrl-C stops.");
            let watching = client.watch(Arc::new(Printer), Arc::new(()));
            tokio::select! {
                r = watching => r?,
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Command::Upload { file, project } => {
            client.project(project)?;
            let facts = client.probe_audio(&file)?;
            let upload = client.record_upload(project, &file, &facts)?;
            if !client.on_server(project)? {
                eprintln!("The project has not reached the server yet; its audio will upload after the next sync.");
                return Ok(());
            }
            send_upload(&client, upload.id).await?;
        }
        Command::Footage(FootageCommand::Add { project, files }) => {
            client.project(project)?;
            // Each file on its own: one refused or failed does not stop the others.
            let mut failed: Vec<anyhow::Error> = Vec::new();
            let mut queued = Vec::new();
            for file in &files {
                match client.probe_footage(file) {
                    Ok(probed) => queued.push(client.record_footage(project, file, &probed)?),
                    Err(e) => {
                        eprintln!("{e}");
                        failed.push(e.into());
                    }
                }
            }
            if !client.on_server(project)? {
                eprintln!("The project has not reached the server yet; its footage will upload after the next sync.");
            } else {
                for upload in &queued {
                    if let Err(e) = send_upload(&client, upload.id).await {
                        eprintln!("{}: {e}", upload.path.display());
                        failed.push(e);
                    }
                }
                if !queued.is_empty() {
                    for f in client.refresh_footage(project).await? {
                        println!("{}", footage_line(&f));
                    }
                }
            }
            if let Some(first) = failed.into_iter().next() {
                return Err(first);
            }
        }
        Command::Footage(FootageCommand::List { project, json }) => {
            client.project(project)?;
            let items = client.footage(project)?;
            if json {
                print_json(&items)?;
            } else if items.is_empty() {
                println!("No footage yet: add clips and stills with `resonance footage add {project} FILE…`.");
            } else {
                for f in &items {
                    println!("{}", footage_line(f));
                }
            }
        }
        Command::Footage(FootageCommand::Move { item, to }) => {
            let patch = resonance_api::footage::FootagePatch { position: Some(to - 1), ..Default::default() };
            for f in client.change_footage(item, &patch).await? {
                println!("{}", footage_line(&f));
            }
        }
        Command::Footage(FootageCommand::Trim { item, in_point, out_point, clear }) => {
            let patch = if clear {
                resonance_api::footage::FootagePatch {
                    in_point: Some(None),
                    out_point: Some(None),
                    ..Default::default()
                }
            } else {
                resonance_api::footage::FootagePatch {
                    position: None,
                    in_point: in_point.map(Some),
                    out_point: out_point.map(Some),
                }
            };
            for f in client.change_footage(item, &patch).await?.iter().filter(|f| f.id == item) {
                println!("{}", footage_line(f));
            }
        }
        Command::Footage(FootageCommand::Rm { item }) => {
            client.remove_footage(item).await?;
            println!("Removed.");
        }
        Command::Uploads { json } => {
            let list = client.unfinished_uploads()?;
            if json {
                print_json(&list)?;
            } else {
                for u in &list {
                    let percent = (u.offset * 100).checked_div(u.size).unwrap_or(100);
                    println!("{}  {:>3}%  {}  {}", u.id, percent, u.state.as_str(), u.path.display());
                }
            }
        }
        Command::CancelUpload { upload } => {
            client.cancel_upload(upload).await?;
            println!("Cancelled.");
        }
        Command::Generations { project, json } => {
            let generations = client.generations(project)?;
            if json {
                print_json(&generations)?;
            } else {
                for g in &generations {
                    let status = g.status.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default();
                    let part = match (g.trim_start, g.trim_end) {
                        (Some(from), to) => format!(
                            "  part {}–{}",
                            format_clock(from),
                            to.map_or_else(|| "end".to_owned(), format_clock)
                        ),
                        (None, _) => String::new(),
                    };
                    println!("#{:<4} {}  seed {}  {status}{part}", g.generation_number.unwrap_or(0), g.id, g.seed);
                }
            }
        }
        Command::Conflicts { json } => {
            let conflicts: Vec<_> = client.outbox()?.into_iter().filter(|e| e.conflict).collect();
            if json {
                print_json(&conflicts)?;
            } else {
                for c in &conflicts {
                    println!(
                        "{}  {:?} of project {}: {}",
                        c.id,
                        c.kind,
                        c.project_id,
                        c.last_error.as_deref().unwrap_or("refused")
                    );
                }
            }
        }
        Command::Resolve { entry, discard, retry: _, fields } => {
            if discard {
                client.discard_conflict(entry)?;
                println!("Discarded; the server's version stays.");
            } else {
                let patch = fields.patch();
                client.retry_conflict(entry, (!patch.is_empty()).then_some(patch))?;
                push_and_report(&client).await?;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RESONANCE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if e.downcast_ref::<ClientError>().is_some_and(ClientError::needs_update) {
                eprintln!("Update `resonance` the way you installed it (built from the repository: `cargo install --path crates/cli`), then run this again.");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}
