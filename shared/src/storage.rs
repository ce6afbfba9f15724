//! Where data lives: `s3://` URIs, local paths, and the keys S3 notifications carry.
//! The S3 calls themselves are in the AWS layer ([`crate::aws::S3Store`]).

use std::fmt;

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
