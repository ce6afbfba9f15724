//! [`S3Store`]: S3 through the SDK for the calls that move data, shared by every
//! function (datasets, baselines, reports, approval records, the saga journal).
//!
//! Errors are mapped once, through [`super::error::classify`], onto the common families
//! ([`CommonError`]), so a missing object is `StorageError.NotFound` and throttling is
//! `Transient.Throttled` whichever function hit it.
//!
//! Without the `aws` feature the type exists but cannot be constructed (it holds an
//! uninhabited value), so code that names it still compiles and no S3 call can happen.

use std::time::Duration;

use bytes::Bytes;

use super::error::AwsError;
use super::ops::PutOutcome;
use crate::error::CommonError;
use crate::storage::S3Uri;

/// One object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub uri: S3Uri,
    pub size: u64,
    pub etag: Option<String>,
}

#[cfg(feature = "aws")]
pub use real::{ObjectBody, S3Store};

#[cfg(not(feature = "aws"))]
pub use offline::{ObjectBody, S3Store};

#[cfg(feature = "aws")]
mod real {
    use super::*;
    use crate::aws::sdk_error::{classify_sdk_error, from_sdk};
    use aws_sdk_s3::error::ProvideErrorMetadata;
    use aws_sdk_s3::presigning::PresigningConfig;
    use aws_sdk_s3::primitives::ByteStream;

    /// An object's body as it arrives.
    #[derive(Debug)]
    pub struct ObjectBody(ByteStream);

    impl ObjectBody {
        /// The next chunk; `None` at the end.
        pub async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
            self.0
                .next()
                .await
                .map(|r| r.map_err(std::io::Error::other))
        }

        /// The body as a buffered async reader (for the streaming decoders).
        pub fn into_async_read(self) -> impl tokio::io::AsyncBufRead + Send {
            self.0.into_async_read()
        }
    }

    /// S3 through the SDK, for the calls that move data (whole, streamed and ranged GETs,
    /// listings, writes) with the one error mapping.
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
        pub async fn get_stream(
            &self,
            uri: &S3Uri,
        ) -> Result<(ObjectBody, Option<u64>), CommonError> {
            let out = self
                .client
                .get_object()
                .bucket(&uri.bucket)
                .key(&uri.key)
                .send()
                .await
                .map_err(|e| classify_sdk_error(&e, &format!("GetObject {uri}")))?;
            let len = out.content_length().map(|l| l.max(0) as u64);
            Ok((ObjectBody(out.body), len))
        }

        /// Bytes `[start, end)` of the object.
        pub async fn get_range(
            &self,
            uri: &S3Uri,
            start: u64,
            end: u64,
        ) -> Result<Bytes, CommonError> {
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
                .map_err(|e| {
                    classify_sdk_error(&e, &format!("GetObject {uri} bytes {start}-{end}"))
                })?;
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
        ) -> Result<PutOutcome, AwsError> {
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
                Ok(out) => Ok(PutOutcome::Written {
                    etag: out.e_tag().unwrap_or_default().to_string(),
                }),
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    if e.code() == Some("PreconditionFailed")
                        || e.code() == Some("ConditionalRequestConflict")
                        || status == Some(412)
                        || status == Some(409)
                    {
                        Ok(PutOutcome::PreconditionFailed)
                    } else {
                        Err(from_sdk(&format!("PutObject {uri}"), &e))
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

        /// A GET link for `uri` that expires after `expires` (SigV4 query signing).
        pub async fn presign_get(
            &self,
            uri: &S3Uri,
            expires: Duration,
        ) -> Result<String, AwsError> {
            let what = format!("presign GetObject {uri}");
            let cfg = PresigningConfig::expires_in(expires)
                .map_err(|e| AwsError::new(&what, "InvalidPresignConfig", &e.to_string(), None))?;
            let req = self
                .client
                .get_object()
                .bucket(&uri.bucket)
                .key(&uri.key)
                .presigned(cfg)
                .await
                .map_err(|e| from_sdk(&what, &e))?;
            Ok(req.uri().to_string())
        }
    }
}

#[cfg(not(feature = "aws"))]
mod offline {
    use super::*;
    use std::convert::Infallible;

    /// An object's body; never exists without the `aws` feature.
    #[derive(Debug)]
    pub struct ObjectBody(Infallible);

    impl ObjectBody {
        pub async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
            match self.0 {}
        }

        pub fn into_async_read(self) -> tokio::io::Empty {
            match self.0 {}
        }
    }

    /// S3 without the SDK: cannot be constructed, so none of these run.
    #[derive(Debug, Clone)]
    pub struct S3Store(Infallible);

    impl S3Store {
        pub async fn get(&self, _: &S3Uri) -> Result<Bytes, CommonError> {
            match self.0 {}
        }
        pub async fn get_stream(
            &self,
            _: &S3Uri,
        ) -> Result<(ObjectBody, Option<u64>), CommonError> {
            match self.0 {}
        }
        pub async fn get_range(&self, _: &S3Uri, _: u64, _: u64) -> Result<Bytes, CommonError> {
            match self.0 {}
        }
        pub async fn head(&self, _: &S3Uri) -> Result<ObjectInfo, CommonError> {
            match self.0 {}
        }
        pub async fn put(
            &self,
            _: &S3Uri,
            _: impl Into<Bytes>,
            _: &str,
        ) -> Result<(), CommonError> {
            match self.0 {}
        }
        pub async fn put_conditional(
            &self,
            _: &S3Uri,
            _: impl Into<Bytes>,
            _: &str,
            _: Option<&str>,
        ) -> Result<PutOutcome, AwsError> {
            match self.0 {}
        }
        pub async fn list(&self, _: &S3Uri) -> Result<Vec<ObjectInfo>, CommonError> {
            match self.0 {}
        }
        pub async fn presign_get(&self, _: &S3Uri, _: Duration) -> Result<String, AwsError> {
            match self.0 {}
        }
    }
}

/// Start records go to S3 once (`If-None-Match: *`); a record already there is read back
/// and stands.
impl crate::trigger::StartRecorder for S3Store {
    async fn record(
        &self,
        uri: &S3Uri,
        record: &crate::origin::StartRecord,
    ) -> Result<crate::trigger::Recorded, CommonError> {
        let body = serde_json::to_vec_pretty(record)
            .map_err(|e| CommonError::Storage(format!("encoding the start record: {e}")))?;
        match self
            .put_conditional(uri, body, "application/json", None)
            .await?
        {
            PutOutcome::Written { .. } => Ok(crate::trigger::Recorded::New),
            PutOutcome::PreconditionFailed => {
                let bytes = self.get(uri).await?;
                let prev = serde_json::from_slice(&bytes).map_err(|e| {
                    CommonError::Storage(format!("{uri} is not a start record: {e}"))
                })?;
                Ok(crate::trigger::Recorded::Existing(prev))
            }
        }
    }
}
