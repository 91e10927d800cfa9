//! Object storage for uploaded audio and rendered videos, through the `object_store` crate: a
//! local directory by default, any S3-compatible store with `s3://bucket/prefix`. Invariant: keys
//! are `<organization>/<project>/…`, so an organization's objects never share a prefix with
//! another's; what is in flight lives under `_uploads/`.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

/// Opens `spec`: `s3://bucket[/prefix]`, or a local directory (created if missing).
pub fn open(spec: &str) -> Result<Arc<dyn ObjectStore>, String> {
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("an s3:// URL needs a bucket: s3://bucket/prefix".into());
        }
        let s3 = AmazonS3Builder::from_env().with_bucket_name(bucket).build().map_err(|e| e.to_string())?;
        let prefix = prefix.trim_matches('/');
        return Ok(if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) });
    }
    if spec.contains("://") {
        return Err(format!("{spec:?}: use a local directory or s3://bucket/prefix"));
    }
    std::fs::create_dir_all(spec).map_err(|e| format!("cannot create {spec}: {e}"))?;
    let local = LocalFileSystem::new_with_prefix(spec).map_err(|e| e.to_string())?;
    Ok(Arc::new(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_understood_or_refused_with_a_reason() {
        let dir = std::env::temp_dir().join(format!("resonance-objects-{}", std::process::id()));
        assert!(open(dir.to_str().unwrap()).is_ok());
        assert!(dir.is_dir(), "a missing local directory is created");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(open("s3://").unwrap_err().contains("bucket"));
        assert!(open("gs://bucket").unwrap_err().contains("s3://"));
    }
}
