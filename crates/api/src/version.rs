//! Which apps a server still serves. Every request of the desktop app and the CLI names the
//! client's version in its `User-Agent` (`resonance-client/X.Y.Z`); a server that needs a newer
//! client answers `426 client_outdated` with a message that says how to update, and publishes
//! the oldest version it accepts in `GET /v1/health` (`min_client_version`). Invariant: the
//! comparison and the advice are written here once, for the server and for the clients' tests.

use std::fmt;
use std::str::FromStr;

/// `GET /v1/health`: whether the server and its database answer, its version, and which apps it
/// serves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    pub status: String,
    pub database: String,
    pub version: String,
    /// The oldest Resonance app this server serves; an older one is answered `426
    /// client_outdated` and should ask its user to update.
    #[cfg_attr(feature = "openapi", schema(example = "0.1.0"))]
    pub min_client_version: String,
    /// Where creators download the app, when the operator said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_download_url: Option<String>,
}

impl Health {
    /// Whether an app of `version` is served (a minimum that cannot be read serves nobody).
    pub fn serves(&self, version: Version) -> bool {
        self.min_client_version.parse::<Version>().is_ok_and(|minimum| version >= minimum)
    }
}

/// What every Resonance client's `User-Agent` starts with, before its version.
pub const CLIENT_AGENT: &str = "resonance-client/";

/// The oldest client this version of the API was written for: a server accepts it unless its
/// operator asks for a newer one (`RESONANCE_MIN_CLIENT_VERSION`).
pub const OLDEST_SERVED_CLIENT: Version = Version { major: 0, minor: 1, patch: 0 };

/// A release number, `major.minor.patch`; a pre-release or build suffix (`-rc.1`, `+git`) is
/// read and ignored, so `0.2.0-rc.1` counts as 0.2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a version number (major.minor.patch, e.g. 0.2.0)")]
pub struct NotAVersion(pub String);

impl FromStr for Version {
    type Err = NotAVersion;

    fn from_str(s: &str) -> Result<Self, NotAVersion> {
        let bad = || NotAVersion(s.to_owned());
        let core = s.trim().split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.').map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse::<u32>().ok()
            }
        });
        let (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Self { major, minor, patch })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The client version a `User-Agent` names, when it is a Resonance client's; `None` for any
/// other caller (a browser, curl, a script), which the version rule does not concern.
pub fn client_version(user_agent: &str) -> Option<Version> {
    let rest = user_agent.trim().strip_prefix(CLIENT_AGENT)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// What a server tells a client older than `minimum`: that it must be updated, and where the
/// new version is when the operator said. Each app adds how it is installed (the desktop's
/// packages, the CLI's binary): the server names no command to run.
pub fn update_advice(current: Version, minimum: Version, download_url: Option<&str>) -> String {
    let from = match download_url {
        Some(url) => format!("This server says it can be downloaded from {url}."),
        None => "Ask whoever runs this server where to get it.".to_owned(),
    };
    format!(
        "This Resonance ({current}) is too old for this server, which needs {minimum} or newer. {from} Nothing on \
         this computer is lost: unsent changes are sent by the new version."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn versions_compare_by_number_not_by_text() {
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1.0.0") > v("0.99.99"));
        assert!(v("0.1.1") > v("0.1.0"));
        assert_eq!(v("0.2.0-rc.1"), v("0.2.0"));
        assert_eq!(v(" 2.3.4+git "), Version { major: 2, minor: 3, patch: 4 });
        assert_eq!(v("0.1.0").to_string(), "0.1.0");
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1..3", "-1.0.0", "1.2.x", "+1.2.3", "99999999999.0.0"] {
            assert!(bad.parse::<Version>().is_err(), "{bad:?} was accepted");
        }
        assert!("1.2".parse::<Version>().unwrap_err().to_string().contains("major.minor.patch"));
    }

    #[test]
    fn only_a_resonance_clients_agent_names_a_version() {
        assert_eq!(client_version("resonance-client/0.3.1"), Some(v("0.3.1")));
        assert_eq!(client_version("resonance-client/0.3.1 (linux)"), Some(v("0.3.1")));
        assert_eq!(client_version("curl/8.1.2"), None);
        assert_eq!(client_version("Mozilla/5.0 resonance-client/0.1.0"), None);
        assert_eq!(client_version("resonance-client/latest"), None);
        assert_eq!(
            client_version(concat!("resonance-client/", env!("CARGO_PKG_VERSION"))),
            env!("CARGO_PKG_VERSION").parse().ok()
        );
    }

    #[test]
    fn the_advice_names_both_versions_and_where_to_get_the_update() {
        let text = update_advice(v("0.1.0"), v("0.2.0"), Some("https://resonance.example/download"));
        for part in [
            "(0.1.0)",
            "needs 0.2.0 or newer",
            "https://resonance.example/download",
            "nothing on this computer is lost",
        ] {
            assert!(text.to_lowercase().contains(&part.to_lowercase()), "{part:?} missing from {text}");
        }
        let without = update_advice(v("0.1.0"), v("0.2.0"), None);
        assert!(without.contains("whoever runs this server") && !without.contains("http"), "{without}");
        assert!(!text.contains("sudo"), "the server names no command to run: {text}");
    }

    #[test]
    fn health_says_which_apps_it_serves() {
        let health = |min: &str| Health {
            status: "ok".into(),
            database: "ok".into(),
            version: "0.2.0".into(),
            min_client_version: min.into(),
            client_download_url: None,
        };
        assert!(health("0.2.0").serves(v("0.2.0")));
        assert!(health("0.2.0").serves(v("0.10.0")));
        assert!(!health("0.2.0").serves(v("0.1.9")));
        assert!(!health("soon").serves(v("9.9.9")), "an unreadable minimum serves nobody");
    }

    #[test]
    fn this_build_is_served_by_a_server_of_the_same_build() {
        assert!(env!("CARGO_PKG_VERSION").parse::<Version>().unwrap() >= OLDEST_SERVED_CLIENT);
    }
}
