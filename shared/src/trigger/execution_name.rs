//! Deterministic execution names.
//!
//! Step Functions refuses a second execution with a name it has seen (for 90 days after
//! the first closes), so a name derived only from *what* is being processed makes
//! duplicate deliveries harmless. Names: 1..=80 characters, none of whitespace,
//! `<>{}[]?*"#%\^|~`$&,;:/` or control characters. Ours keep to `[A-Za-z0-9-]`: a
//! readable part (the file name) and a hash of bucket, key and version (or ETag).

use sha2::{Digest, Sha256};

use crate::events::{ObjectCreated, ScheduleTick};

/// Longest name Step Functions accepts.
pub const MAX_LEN: usize = 80;
const SLUG_MAX: usize = 40;

/// `new-<file-slug>-<hash20>`: one name per bucket/key/content version.
pub fn for_object(obj: &ObjectCreated) -> String {
    let digest = hex_digest(&[&obj.bucket, &obj.key, obj.content_id()]);
    let file = obj
        .key
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    compose("new", &slug(file), &digest[..20])
}

/// `scheduled-<yyyymmddThhmmssZ>-<hash12>`: one name per tick of one rule.
pub fn for_schedule(tick: &ScheduleTick) -> String {
    let digest = hex_digest(&[tick.rule.as_deref().unwrap_or(""), &tick.time]);
    let stamp: String = tick
        .time
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    compose("scheduled", &stamp, &digest[..12])
}

fn compose(kind: &str, readable: &str, hash: &str) -> String {
    let name = if readable.is_empty() {
        format!("{kind}-{hash}")
    } else {
        format!("{kind}-{readable}-{hash}")
    };
    debug_assert!(is_valid(&name), "{name}");
    name
}

fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// ASCII letters and digits kept, every other run of characters becomes one `-`,
/// trimmed to [`SLUG_MAX`] characters.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= SLUG_MAX {
            break;
        }
    }
    out.trim_matches('-').to_string()
}

/// True when Step Functions accepts `name` as an execution name.
pub fn is_valid(name: &str) -> bool {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    !name.is_empty()
        && name.chars().count() <= MAX_LEN
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !FORBIDDEN.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Channel;
    use proptest::prelude::*;

    fn obj(
        bucket: &str,
        key: &str,
        version: Option<&str>,
        etag: Option<&str>,
        channel: Channel,
    ) -> ObjectCreated {
        ObjectCreated {
            bucket: bucket.into(),
            key: key.into(),
            version_id: version.map(Into::into),
            etag: etag.map(Into::into),
            size: Some(1),
            event_time: None,
            event_id: None,
            channel,
            requester: None,
            source_ip: None,
        }
    }

    #[test]
    fn same_object_version_same_name_whatever_the_channel() {
        let a = obj(
            "b",
            "data/day 1/part-0001.csv",
            Some("v1"),
            Some("e"),
            Channel::S3Notification,
        );
        let b = obj(
            "b",
            "data/day 1/part-0001.csv",
            Some("v1"),
            Some("e"),
            Channel::Eventbridge,
        );
        assert_eq!(for_object(&a), for_object(&b));
        assert!(
            for_object(&a).starts_with("new-part-0001-csv-"),
            "{}",
            for_object(&a)
        );
    }

    #[test]
    fn a_new_version_or_another_key_is_another_run() {
        let a = obj("b", "data/x.csv", Some("v1"), None, Channel::Eventbridge);
        let v2 = obj("b", "data/x.csv", Some("v2"), None, Channel::Eventbridge);
        let other = obj("b", "data/y.csv", Some("v1"), None, Channel::Eventbridge);
        let other_bucket = obj("c", "data/x.csv", Some("v1"), None, Channel::Eventbridge);
        let names = [
            for_object(&a),
            for_object(&v2),
            for_object(&other),
            for_object(&other_bucket),
        ];
        for i in 0..names.len() {
            for j in i + 1..names.len() {
                assert_ne!(names[i], names[j]);
            }
        }
    }

    #[test]
    fn schedule_names() {
        let t = ScheduleTick {
            time: "2026-11-22T00:00:00Z".into(),
            rule: Some("arn:r".into()),
            event_id: Some("1".into()),
        };
        let again = ScheduleTick {
            event_id: Some("2".into()),
            ..t.clone()
        };
        assert_eq!(
            for_schedule(&t),
            for_schedule(&again),
            "a redelivered tick has a new id but the same time"
        );
        assert!(
            for_schedule(&t).starts_with("scheduled-20261122T000000Z-"),
            "{}",
            for_schedule(&t)
        );
        let next = ScheduleTick {
            time: "2026-11-29T00:00:00Z".into(),
            ..t
        };
        assert_ne!(for_schedule(&next), for_schedule(&again));
    }

    #[test]
    fn validity_rules() {
        assert!(is_valid("new-a-0123"));
        for bad in ["", "a b", "a/b", "a:b", "a$b", &"x".repeat(81)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn names_are_always_valid(bucket in "[a-z0-9.-]{3,20}", key in "\\PC{0,300}", version in proptest::option::of("\\PC{0,40}"), etag in proptest::option::of("[0-9a-f]{32}")) {
            let o = obj(&bucket, &key, version.as_deref(), etag.as_deref(), Channel::S3Notification);
            let n = for_object(&o);
            prop_assert!(is_valid(&n), "{}", n);
            prop_assert_eq!(n.clone(), for_object(&o));
        }
    }
}
