//! Starting a generation: what the client sends. Invariant: a seed a client supplies is short
//! plain text, so it can be shown, typed back, and stored with a re-run suffix (`~k`).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

pub const SEED_MAX_CHARS: usize = 64;

/// `POST /v1/projects/{id}/generations`. Send it with an `Idempotency-Key`: a retry returns the
/// same generation and is not counted against the quota twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct NewGeneration {
    /// Re-render with the seed of an earlier generation (its `seed` up to any `~`); omitted, the
    /// server picks a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}(~.*)?$"))]
    pub seed: Option<String>,
}

/// The seed a render follows: a stored seed without its re-run suffix.
pub fn render_seed(stored: &str) -> &str {
    stored.split('~').next().unwrap_or(stored)
}

impl NewGeneration {
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(seed) = &self.seed {
            let seed = render_seed(seed);
            if seed.is_empty() || seed.chars().count() > SEED_MAX_CHARS {
                return Err(FieldError::new("seed", format!("must be 1 to {SEED_MAX_CHARS} characters")));
            }
            if !seed.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(FieldError::new("seed", "may contain only letters, digits, '-' and '_'"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_checked_and_rerun_suffixes_dropped() {
        assert_eq!(render_seed("a1b2~3"), "a1b2");
        assert_eq!(render_seed("a1b2"), "a1b2");
        let ok = NewGeneration { seed: Some("9f3a-x_1".into()) };
        assert!(ok.validate().is_ok());
        // A stored seed pasted back, suffix and all, re-runs its render seed.
        assert!(NewGeneration { seed: Some("9f3a~2".into()) }.validate().is_ok());
        for bad in ["", "has space", "é", &"x".repeat(65)] {
            let e = NewGeneration { seed: Some(bad.into()) }.validate().unwrap_err();
            assert_eq!(e.field, "seed", "{bad:?}");
        }
        assert!(NewGeneration::default().validate().is_ok());
    }
}
