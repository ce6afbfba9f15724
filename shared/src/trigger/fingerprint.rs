//! `fingerprint`: the SHA-256 of the training data, for the model package's lineage.
//!
//! One object: the SHA-256 of its bytes (what `sha256sum` prints). A prefix: every object
//! is hashed in key order and the fingerprint is the SHA-256 of the manifest lines
//! `<sha256>  <key>  <size>\n` (`sha256sum`'s format plus the size), so a change to any
//! byte, key or object set changes it. Objects are streamed, never held whole. The
//! manifest can be written to S3 so the lineage can be checked later, file by file.

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::aws::S3Store;
use crate::error::CommonError;
use crate::lambda::Deadline;
use crate::storage::S3Uri;

/// Task input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FingerprintInput {
    /// `s3://bucket/key` or `s3://bucket/prefix/`.
    pub data: String,
    /// Where to write the manifest (optional).
    #[serde(default)]
    pub manifest_uri: Option<String>,
}

/// The manifest line format and the combined digest (pure; unit-tested).
pub fn combine(entries: &[(String, u64, String)]) -> String {
    let mut h = Sha256::new();
    for (key, size, sha) in entries {
        h.update(format!("{sha}  {key}  {size}\n"));
    }
    hex::encode(h.finalize())
}

/// Hash the data. Stops with `Transient.DeadlineExceeded` (saying how far it got) when the
/// deadline passes between objects.
pub async fn fingerprint(
    store: &S3Store,
    input: &FingerprintInput,
    deadline: Deadline,
) -> Result<Value, CommonError> {
    let uri = S3Uri::parse(&input.data)?;
    let mut objects: Vec<_> = store
        .list(&uri)
        .await?
        .into_iter()
        .filter(|o| !o.uri.key.ends_with('/'))
        .collect();
    // A key that is an object and also a prefix of others ("x.csv", "x.csv.bak"): when the
    // URI names an object exactly, that object alone.
    if !uri.is_prefix() {
        if let Some(exact) = objects.iter().position(|o| o.uri.key == uri.key) {
            objects = vec![objects.swap_remove(exact)];
        }
    }
    objects.sort_by(|a, b| a.uri.key.cmp(&b.uri.key));
    if objects.is_empty() {
        return Err(CommonError::NotFound(format!("no objects under {uri}")));
    }
    let mut entries = Vec::with_capacity(objects.len());
    let mut bytes = 0u64;
    for (i, o) in objects.iter().enumerate() {
        if deadline.expired() {
            return Err(CommonError::DeadlineExceeded(format!(
                "fingerprint of {uri}: hashed {i} of {} objects",
                objects.len()
            )));
        }
        let (mut body, _) = store.get_stream(&o.uri).await?;
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| CommonError::Transient(format!("reading {}: {e}", o.uri)))?;
            n += chunk.len() as u64;
            h.update(&chunk);
        }
        bytes += n;
        entries.push((o.uri.key.clone(), n, hex::encode(h.finalize())));
    }
    let sha256 = if entries.len() == 1 && !uri.is_prefix() {
        entries[0].2.clone()
    } else {
        combine(&entries)
    };
    if let Some(m) = &input.manifest_uri {
        let manifest = json!({
            "data": uri.to_string(),
            "sha256": sha256,
            "objects": entries.iter().map(|(k, s, h)| json!({"key": k, "size": s, "sha256": h})).collect::<Vec<_>>(),
        });
        store
            .put(&S3Uri::parse(m)?, manifest.to_string(), "application/json")
            .await?;
    }
    Ok(
        json!({"sha256": sha256, "objects": entries.len(), "bytes": bytes, "manifest_uri": input.manifest_uri}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_matches_sha256sum_manifest() {
        // `printf '<sha of empty>  a  0\n' | sha256sum`, computed outside Rust.
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string();
        assert_eq!(
            combine(&[("a".into(), 0, empty.clone())]),
            "0f6a04393998c2d2ee8a890d2504262db9dca6cbe2c5e0e157b85a313c85aad4"
        );
        assert_ne!(
            combine(&[("a".into(), 0, empty.clone())]),
            combine(&[("b".into(), 0, empty.clone())])
        );
        assert_ne!(
            combine(&[("a".into(), 0, empty.clone())]),
            combine(&[("a".into(), 1, empty)])
        );
    }
}
