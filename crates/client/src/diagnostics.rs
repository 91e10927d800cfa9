//! A plain-text report for support: what this app is, where it runs, how its sync, uploads,
//! mirror and cache stand, and its last log lines. Invariant: no access token, refresh token,
//! password, invitation code or signed URL leaves in it; the session's own tokens are removed by
//! value, and anything shaped like a secret (a JWT, a bearer token, a long opaque token, a URL's
//! query) by form, whatever its source.

use std::fmt::Write as _;
use std::path::Path;

use reqwest::Method;
use uuid::Uuid;

use crate::client::Client;

/// What the shell knows of where the app runs.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// e.g. "Resonance Desktop 0.1.0".
    pub app: String,
    pub os: String,
    /// The web engine's name and version.
    pub webview: String,
    /// The newest log lines, oldest first.
    pub log_lines: Vec<String>,
}

/// Log lines in a report.
pub const LOG_LINES: usize = 50;

const REDACTED: &str = "[redacted]";

/// `text` with every secret removed: the `known` values, and whatever looks like one.
pub fn redact(text: &str, known: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in known.iter().filter(|s| s.len() >= 8) {
        text = text.replace(secret.as_str(), REDACTED);
    }
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut after_bearer = false;
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                out.push(' ');
            }
            let cleaned = if after_bearer { REDACTED.to_owned() } else { redact_word(word) };
            after_bearer = word.eq_ignore_ascii_case("bearer");
            out.push_str(&cleaned);
        }
    }
    out
}

fn redact_word(word: &str) -> String {
    let mut w = word.to_owned();
    // A URL's query and fragment carry signatures and tokens: they go whole.
    if w.contains("://") {
        if let Some(i) = w.find(['?', '#']) {
            w = format!("{}?{REDACTED}", &w[..i]);
        }
    }
    // An invitation link, anywhere in the word and in any letter case: its code goes.
    const INVITE: &str = "resonance://invite/";
    if let Some(i) = w.to_ascii_lowercase().find(INVITE) {
        let from = i + INVITE.len();
        let to = w[from..].find(|c: char| !is_token_char(c)).map_or(w.len(), |n| from + n);
        if to > from {
            w.replace_range(from..to, REDACTED);
        }
    }
    // Then every run of token characters (a path segment, a JSON value, a key=value's value) is
    // judged alone.
    let mut out = String::with_capacity(w.len());
    let mut run = String::new();
    for c in w.chars() {
        if is_token_char(c) || c == '.' {
            run.push(c);
        } else {
            flush(&mut out, &mut run);
            out.push(c);
        }
    }
    flush(&mut out, &mut run);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Writes `run` to `out`, a secret in it replaced: the whole run (a JWT, a token ending a
/// sentence), else each of its dot-separated pieces.
fn flush(out: &mut String, run: &mut String) {
    let trimmed = run.trim_end_matches('.');
    if looks_secret(trimmed) {
        out.push_str(REDACTED);
        out.push_str(&run[trimmed.len()..]);
    } else {
        let pieces: Vec<&str> = run.split('.').map(|p| if looks_secret(p) { REDACTED } else { p }).collect();
        out.push_str(&pieces.join("."));
    }
    run.clear();
}

/// A JWT, or a long run of token characters that is not an id or a hash people need to read.
fn looks_secret(s: &str) -> bool {
    let token_chars = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if s.starts_with("eyJ") && s.split('.').count() == 3 && s.split('.').all(token_chars) {
        return true;
    }
    s.len() >= 32 && token_chars(s) && Uuid::parse_str(s).is_err() && !s.chars().all(|c| c.is_ascii_hexdigit())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

/// The report. Reads this machine's state and asks the server for its version (a failure to
/// reach it is part of the report, not an error).
pub async fn report(client: &Client, env: &Environment) -> String {
    let mut r = String::new();
    let _ =
        writeln!(r, "Resonance diagnostics, {}", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let _ = writeln!(r, "App: {}", env.app);
    let _ = writeln!(r, "OS: {}", env.os);
    let _ = writeln!(r, "Web view: {}", env.webview);
    let mut secrets = Vec::new();
    match client.session() {
        Err(_) => {
            let _ = writeln!(r, "Account: nobody is signed in");
        }
        Ok(session) => {
            secrets = session.secrets_for_redaction().await;
            let a = session.account();
            let _ = writeln!(r, "Account: {} ({}) in {} as {}", a.email, a.user_id, a.organization_name, a.role);
            let server = match session.http().send(Method::GET, "/v1/health", None, None, None).await {
                Ok(resp) => match resp.json::<resonance_api::version::Health>().await {
                    Ok(h) => format!("version {}, {}, serves apps from {}", h.version, h.status, h.min_client_version),
                    Err(e) => format!("answered something unreadable ({e})"),
                },
                Err(e) => format!("not reachable now: {e}"),
            };
            let _ = writeln!(r, "Server: {} ({server})", a.server);
        }
    }
    match client.status() {
        Ok(s) => {
            let _ = writeln!(
                r,
                "Sync: {:?}; last success {}; last error {}",
                s.state,
                s.last_success_at.as_deref().unwrap_or("never"),
                s.last_error.as_deref().unwrap_or("none")
            );
            let _ = writeln!(r, "Outbox: {} change(s) waiting, {} refused", s.pending_changes, s.conflicts);
        }
        Err(e) => {
            let _ = writeln!(r, "Sync: unknown ({e})");
        }
    }
    match client.unfinished_uploads() {
        Ok(list) => {
            let _ = write!(r, "Uploads in flight: {}", list.len());
            for u in &list {
                let _ = write!(
                    r,
                    "; {} {} of {} ({})",
                    u.state.as_str(),
                    megabytes(u.offset),
                    megabytes(u.size),
                    u.purpose.as_str()
                );
            }
            let _ = writeln!(r);
        }
        Err(e) => {
            let _ = writeln!(r, "Uploads in flight: unknown ({e})");
        }
    }
    if let Ok(mirror) = client.mirror() {
        let path = mirror.path().to_owned();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(format!("{}-wal", path.display())).map(|m| m.len()).unwrap_or(0);
        let _ = writeln!(
            r,
            "Mirror: {} ({}); last full integrity check {}",
            path.display(),
            megabytes(size),
            checked(&path)
        );
        match crate::media::usage(&mirror) {
            Ok(used) => {
                let _ = writeln!(r, "Media cache: {} of {}", megabytes(used), megabytes(crate::media::cap_bytes()));
            }
            Err(e) => {
                let _ = writeln!(r, "Media cache: unknown ({e})");
            }
        }
    }
    let _ = writeln!(r, "\nLast {} log lines:", env.log_lines.len().min(LOG_LINES));
    let skip = env.log_lines.len().saturating_sub(LOG_LINES);
    for line in &env.log_lines[skip..] {
        let _ = writeln!(r, "{line}");
    }
    redact(&r, &secrets)
}

/// When the mirror last passed a full integrity check (its marker file's time).
fn checked(mirror: &Path) -> String {
    std::fs::metadata(mirror.with_extension("checked"))
        .and_then(|m| m.modified())
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|_| "not recorded".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_by_value_and_by_form_and_ids_stay() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz";
        let refresh = "Zx3_-abcDEF0123456789abcdefghijklmnopqrstu";
        let id = Uuid::new_v4().to_string();
        let sha = "a".repeat(64);
        let text = format!(
            "INFO sent Authorization: Bearer {jwt}\n\
             refresh_token={refresh} user {id}\n\
             GET https://bucket.example/renders/x.mp4?X-Amz-Signature=abc&X-Amz-Credential=k done\n\
             opened resonance://invite/{refresh}\n\
             the password is hunter2-but-longer\n\
             upload {sha} ok\n\
             link=\"Resonance://Invite/{refresh}?from=mail\" (resonance://invite/{refresh})\n\
             shared https://r.example/v1/shared/{refresh}/video#t=1 and {{\"refresh_token\":\"{refresh}\"}} then {jwt}."
        );
        let out = redact(&text, &["hunter2-but-longer".to_owned()]);
        for secret in [jwt, refresh, "X-Amz-Signature", "hunter2-but-longer"] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains(&id), "ids stay: {out}");
        assert!(out.contains(&sha), "hashes stay: {out}");
        assert!(out.contains("https://bucket.example/renders/x.mp4?[redacted]"), "{out}");
        assert!(out.contains("resonance://invite/[redacted]"), "{out}");
    }

    #[tokio::test]
    async fn a_signed_out_report_names_the_app_and_its_last_log_lines() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::open(crate::accounts::DataDir::resolve(Some(dir.path().to_owned())).unwrap()).unwrap();
        let env = Environment {
            app: "Resonance Desktop 9.9.9".into(),
            os: "Debian".into(),
            webview: "WebKitGTK 2.48".into(),
            log_lines: (1..=80).map(|i| format!("line {i}")).collect(),
        };
        let r = report(&client, &env).await;
        assert!(r.contains("App: Resonance Desktop 9.9.9") && r.contains("nobody is signed in"), "{r}");
        assert!(r.contains("Last 50 log lines:") && r.contains("line 31\n") && !r.contains("line 30\n"), "{r}");
    }
}
