//! The Resonance wire contract: every type that crosses HTTP between the desktop client and the
//! hosted server, the error codes both sides branch on, and the validation rules a client can run
//! offline before queueing a write. Invariant: no I/O lives here, and a field added to the wire is
//! added here once and used on both sides.

/// `FromStr` for an enum with `ALL` and `as_str`: the spelling `as_str` gives reads back, any
/// other is refused, naming `$what`.
macro_rules! from_spelling {
    ($($ty:ty: $what:literal),+ $(,)?) => {$(
        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), s))
            }
        }
    )+};
}

pub mod auth;
pub mod error;
pub mod events;
pub mod footage;
pub mod generations;
pub mod links;
pub mod model;
pub mod plans;
pub mod projects;
pub mod sensitive;
pub mod sharing;
pub mod sync;
pub mod uploads;
pub mod version;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use sensitive::Sensitive;
