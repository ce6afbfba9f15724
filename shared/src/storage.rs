//! Where data lives: `s3://` URIs and local paths, and the S3 operations every
//! function shares (get, ranged get, put, conditional put, paginated listing).
//!
//! Errors are mapped once, here, onto the common families ([`CommonError`]), so a
//! missing object is `StorageError.NotFound` and throttling is `Transient.Throttled`
//! whichever function hit it.

use std::fmt;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::aws::classify_sdk_error;
use crate::error::CommonError;

/// A parsed `s3://bucket/key` URI. `key` may be empty (a whole bucket) or end with `/`
/// (a prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

impl S3Uri {
    /// Parse `s3://bucket/key`.
    pub fn parse(s: &str) -> Result<Self, CommonError> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| CommonError::InvalidUri(format!("{s:?} does not start with s3://")))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(CommonError::InvalidUri(format!("{s:?} has no bucket")));
        }
        // S3 bucket naming rules, loosely: what could never be a bucket is refused early.
        if bucket.len() < 3
            || bucket.len() > 63
            || !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return Err(CommonError::InvalidUri(format!(
                "{s:?}: {bucket:?} is not a valid bucket name"
            )));
        }
        Ok(S3Uri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// A URI from parts.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        S3Uri {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    /// True when the key is empty or ends with `/`.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// A child of this prefix (adds the `/` if missing).
    pub fn join(&self, name: &str) -> S3Uri {
        let mut key = self.key.clone();
        if !key.is_empty() && !key.ends_with('/') {
            key.push('/');
        }
        key.push_str(name.trim_start_matches('/'));
        S3Uri {
            bucket: self.bucket.clone(),
            key,
        }
    }

    /// The last path segment of the key.
    pub fn file_name(&self) -> &str {
        self.key
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl TryFrom<String> for S3Uri {
    type Error = CommonError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        S3Uri::parse(&s)
    }
}

impl From<S3Uri> for String {
    fn from(u: S3Uri) -> String {
        u.to_string()
    }
}

/// The object key of an S3 event notification, decoded. Notifications URL-encode keys
/// like a form field: `+` is a space and `%XX` a byte (S3 escapes `+`, `=`, `&`, `%`
/// themselves). Strict on purpose: a malformed escape or bytes that are not UTF-8 are an
/// error, never a guess, so a mangled key cannot start a run on the wrong object.
/// EventBridge "Object Created" events carry the key plain and need no decoding.
pub fn decode_notification_key(raw: &str) -> Result<String, CommonError> {
    let bad = |why: &str| CommonError::InvalidInput(format!("S3 key {raw:?}: {why}"));
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| bad("bad %-escape"))?;
                let digit = |h: u8| (h as char).to_digit(16).unwrap_or(0) as u8;
                out.push(digit(hex[0]) * 16 + digit(hex[1]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad("does not decode to UTF-8"))
}

/// A dataset or artifact location: S3 or (CLI only) the local file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3(S3Uri),
    Local(std::path::PathBuf),
}

impl Location {
    /// `s3://…` becomes S3, anything else a local path.
    pub fn parse(s: &str) -> Result<Self, CommonError> {
        if s.starts_with("s3://") {
            Ok(Location::S3(S3Uri::parse(s)?))
        } else if s.is_empty() {
            Err(CommonError::InvalidUri("empty location".into()))
        } else {
            Ok(Location::Local(s.into()))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3(u) => u.fmt(f),
            Location::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub uri: S3Uri,
    pub size: u64,
    pub etag: Option<String>,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionalPut {
    /// Written; the new ETag.
    Written(Option<String>),
    /// The precondition failed (another writer got there first).
    PreconditionFailed,
}

/// Thin wrapper over the S3 client with trainguard's error mapping.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store { client }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The whole object.
    pub async fn get(&self, uri: &S3Uri) -> Result<Bytes, CommonError> {
        let out = self
            .client
            .get_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e, &format!("GetObject {uri}")))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| CommonError::Transient(format!("reading {uri}: {e}")))?;
        Ok(body.into_bytes())
    }

    /// The object as a byte stream (for streaming decoders) plus its size.
    pub async fn get_stream(&self, uri: &S3Uri) -> Result<(ByteStream, Option<u64>), CommonError> {
        let out = self
            .client
            .get_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e, &format!("GetObject {uri}")))?;
        let len = out.content_length().map(|l| l.max(0) as u64);
        Ok((out.body, len))
    }

    /// Bytes `[start, end)` of the object.
    pub async fn get_range(&self, uri: &S3Uri, start: u64, end: u64) -> Result<Bytes, CommonError> {
        if end <= start {
            return Ok(Bytes::new());
        }
        let out = self
            .client
            .get_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .range(format!("bytes={}-{}", start, end - 1))
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e, &format!("GetObject {uri} bytes {start}-{end}")))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| CommonError::Transient(format!("reading {uri}: {e}")))?;
        Ok(body.into_bytes())
    }

    /// Size and ETag of an object.
    pub async fn head(&self, uri: &S3Uri) -> Result<ObjectInfo, CommonError> {
        let out = self
            .client
            .head_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e, &format!("HeadObject {uri}")))?;
        Ok(ObjectInfo {
            uri: uri.clone(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().map(str::to_string),
        })
    }

    /// Write an object.
    pub async fn put(
        &self,
        uri: &S3Uri,
        body: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<(), CommonError> {
        self.client
            .put_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .content_type(content_type)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .map_err(|e| classify_sdk_error(&e, &format!("PutObject {uri}")))?;
        Ok(())
    }

    /// Write only if the object does not exist (`If-None-Match: *`), or only if its
    /// ETag is still `if_match`. Two concurrent writers cannot both succeed.
    pub async fn put_conditional(
        &self,
        uri: &S3Uri,
        body: impl Into<Bytes>,
        content_type: &str,
        if_match: Option<&str>,
    ) -> Result<ConditionalPut, CommonError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .content_type(content_type)
            .body(ByteStream::from(body.into()));
        req = match if_match {
            Some(etag) => req.if_match(etag),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(ConditionalPut::Written(out.e_tag().map(str::to_string))),
            Err(e) => {
                use aws_sdk_s3::error::ProvideErrorMetadata;
                let status = e.raw_response().map(|r| r.status().as_u16());
                if e.code() == Some("PreconditionFailed")
                    || e.code() == Some("ConditionalRequestConflict")
                    || status == Some(412)
                    || status == Some(409)
                {
                    Ok(ConditionalPut::PreconditionFailed)
                } else {
                    Err(classify_sdk_error(&e, &format!("PutObject {uri}")))
                }
            }
        }
    }

    /// Every object under a prefix (ListObjectsV2, all pages).
    pub async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, CommonError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&prefix.bucket)
            .prefix(&prefix.key)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| classify_sdk_error(&e, &format!("ListObjectsV2 {prefix}")))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(ObjectInfo {
                        uri: S3Uri::new(&prefix.bucket, key),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().map(str::to_string),
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;

    #[test]
    fn notification_keys_decode_strictly() {
        assert_eq!(
            decode_notification_key("a/b+c%3Dd.csv").unwrap(),
            "a/b c=d.csv"
        );
        assert_eq!(
            decode_notification_key("caf%C3%A9.csv").unwrap(),
            "café.csv"
        );
        assert_eq!(
            decode_notification_key("data/a%3Db%26c.csv").unwrap(),
            "data/a=b&c.csv"
        );
        assert_eq!(decode_notification_key("100%25+sure").unwrap(), "100% sure");
        for bad in ["bad%zz", "cut%4", "end%", "%+f", "%-1", "lone%FF"] {
            let e = decode_notification_key(bad).unwrap_err();
            assert_eq!(e.error_name(), "InputError.InvalidEvent", "{bad}");
        }
    }

    #[test]
    fn parses_uris() {
        let u = S3Uri::parse("s3://my-bucket/a/b.csv").unwrap();
        assert_eq!(u.bucket, "my-bucket");
        assert_eq!(u.key, "a/b.csv");
        assert!(!u.is_prefix());
        assert_eq!(u.file_name(), "b.csv");
        assert!(S3Uri::parse("s3://my-bucket/a/").unwrap().is_prefix());
        assert!(S3Uri::parse("s3://my-bucket").unwrap().is_prefix());
        assert_eq!(
            S3Uri::parse("s3://my-bucket/a").unwrap().join("x.json").key,
            "a/x.json"
        );
        assert_eq!(u.to_string(), "s3://my-bucket/a/b.csv");
    }

    #[test]
    fn refuses_bad_uris() {
        for bad in [
            "http://x/y",
            "s3://",
            "s3:///key",
            "s3://Upper/key",
            "s3://ab/k",
            "bucket/key",
        ] {
            let e = S3Uri::parse(bad).unwrap_err();
            assert_eq!(
                crate::ErrorName::error_name(&e),
                "InputError.InvalidUri",
                "{bad}"
            );
        }
    }

    #[test]
    fn location_parse() {
        assert!(matches!(
            Location::parse("s3://bkt/x").unwrap(),
            Location::S3(_)
        ));
        assert!(matches!(
            Location::parse("./x.csv").unwrap(),
            Location::Local(_)
        ));
        assert!(Location::parse("").is_err());
    }
}
