//! Stripe's webhook signature, checked exactly as Stripe documents it: the `Stripe-Signature`
//! header carries `t=<unix seconds>` and one or more `v1=<hex>` signatures; a signature is
//! HMAC-SHA256 over `"{t}.{raw body}"` keyed with the endpoint secret. One matching `v1` is
//! enough (Stripe sends several while a secret is being rolled); `v0` and unknown schemes are
//! ignored; `t` must be within the tolerance of now. Invariant: the body is not parsed before this
//! passes, and the comparison is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no valid timestamp")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("no v1 signature matches the payload")]
    Mismatch,
    #[error("the signed timestamp is {seconds} s away from now, beyond the tolerance")]
    OutsideTolerance { seconds: i64 },
}

/// Checks `header` against `payload`; returns the signed timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &[u8],
    now_unix: i64,
    tolerance_seconds: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<&str> = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else { continue };
        match key {
            // Stripe sends one `t`; a header with two is not Stripe's.
            "t" if timestamp.is_none() => timestamp = Some(value),
            "t" => return Err(SignatureError::NoTimestamp),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let t_text = timestamp.ok_or(SignatureError::NoTimestamp)?;
    let t: i64 = t_text.parse().map_err(|_| SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(t_text.as_bytes());
    mac.update(b".");
    mac.update(payload);
    let matched = signatures
        .iter()
        .filter_map(|s| hex::decode(s).ok())
        .any(|candidate| mac.clone().verify_slice(&candidate).is_ok());
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let age = now_unix.saturating_sub(t);
    if age.abs() > tolerance_seconds {
        return Err(SignatureError::OutsideTolerance { seconds: age });
    }
    Ok(t)
}

/// The header value Stripe would send for `payload` at `timestamp` (for tests and tools).
pub fn sign(payload: &[u8], secret: &[u8], timestamp: i64) -> String {
    // HMAC takes keys of any length: this never returns early.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(payload);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const NOW: i64 = 1_764_633_600;

    #[test]
    fn matches_an_independently_computed_signature() {
        // HMAC-SHA256("whsec_test_secret", "1764633600.{body}"), computed independently with
        // `printf '%s' "1764633600.$BODY" | openssl dgst -sha256 -hmac whsec_test_secret`.
        let header = "t=1764633600,v1=e9f7eb539a16d7ed4298ab20eedef63c3d565c122d68aff766358b12de2365d8";
        assert_eq!(sign(BODY, SECRET, NOW), header);
        assert_eq!(verify(Some(header), BODY, SECRET, NOW, 300), Ok(NOW));
    }

    #[test]
    fn tampered_body_wrong_secret_and_missing_parts_are_refused() {
        let header = sign(BODY, SECRET, NOW);
        let tampered = br#"{"id":"evt_1","type":"invoice.paid" }"#;
        assert_eq!(verify(Some(&header), tampered, SECRET, NOW, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&header), BODY, b"whsec_other", NOW, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, BODY, SECRET, NOW, 300), Err(SignatureError::Missing));
        assert_eq!(verify(Some("v1=abc"), BODY, SECRET, NOW, 300), Err(SignatureError::NoTimestamp));
        assert_eq!(verify(Some("t=x,v1=abc"), BODY, SECRET, NOW, 300), Err(SignatureError::NoTimestamp));
        assert_eq!(verify(Some(&format!("t={NOW}")), BODY, SECRET, NOW, 300), Err(SignatureError::NoSignature));
        // A v0 signature (Stripe's test scheme) never counts.
        let v0 = header.replace("v1=", "v0=");
        assert_eq!(verify(Some(&v0), BODY, SECRET, NOW, 300), Err(SignatureError::NoSignature));
        // The timestamp is part of what is signed: moving it breaks the signature.
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert_eq!(verify(Some(&moved), BODY, SECRET, NOW, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn any_one_of_several_v1_signatures_is_enough() {
        let good = sign(BODY, SECRET, NOW);
        let good_sig = &good[good.find("v1=").unwrap_or(0) + 3..];
        let header = format!("t={NOW},v1={},v1={good_sig},v0=00", "ab".repeat(32));
        assert_eq!(verify(Some(&header), BODY, SECRET, NOW, 300), Ok(NOW));
        let not_hex = format!("t={NOW},v1=zz,v1={good_sig}");
        assert_eq!(verify(Some(&not_hex), BODY, SECRET, NOW, 300), Ok(NOW));
    }

    #[test]
    fn five_minute_tolerance_both_ways() {
        let header = sign(BODY, SECRET, NOW);
        assert_eq!(verify(Some(&header), BODY, SECRET, NOW + 300, 300), Ok(NOW));
        assert_eq!(
            verify(Some(&header), BODY, SECRET, NOW + 301, 300),
            Err(SignatureError::OutsideTolerance { seconds: 301 })
        );
        assert_eq!(
            verify(Some(&header), BODY, SECRET, NOW - 301, 300),
            Err(SignatureError::OutsideTolerance { seconds: -301 })
        );
    }
}
