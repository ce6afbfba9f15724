//! Who started a run: the start record.
//!
//! Step Functions does not tell an execution who called StartExecution, and anything in
//! the execution input was chosen by that caller. So the one component that sees the
//! start authenticated, pipeline-trigger, writes a [`StartRecord`] at
//! `s3://<artifacts>/pipeline/<execution>/start.json` *before* it starts the execution:
//! the uploader S3 names in the event, the IAM caller API Gateway authenticated for a
//! manual start, or the schedule. The approval gate reads `started_by` from there, never
//! from the input, and checks the record belongs to this execution: the SHA-256 of the
//! execution input ([`input_digest`]) must equal the digest of `$$.Execution.Input`.
//! A run started any other way (a direct StartExecution) has no record; the gate then
//! fails closed (`Approval.UnattributedRun`) unless the deployment allows unattributed
//! runs.
//!
//! Trust: the record is only as good as who may write `pipeline/*/start.json`: the
//! template's bucket policy denies that key to every principal but pipeline-trigger's
//! role, and the record is written once (`If-None-Match: *`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::storage::S3Uri;

/// How the starter was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StarterKind {
    /// The IAM principal that wrote the data object (S3 event notification
    /// `userIdentity.principalId`, e.g. `AWS:AIDA…` or `AWS:AROA…:<session>`).
    S3Uploader,
    /// Only the account is known (EventBridge's S3 events carry `detail.requester`, an
    /// account id or service principal, never a person).
    Account,
    /// The retraining schedule: no person started it.
    Schedule,
    /// An IAM caller of the manual-start route, authenticated by API Gateway (`userArn`).
    IamCaller,
}

/// Who and what started a run, as the trigger saw it authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOrigin {
    pub started_by: Option<String>,
    pub starter_kind: StarterKind,
    pub channel: String,
    pub event_id: Option<String>,
    pub source_ip: Option<String>,
}

impl StartOrigin {
    /// The record for the execution `name` started with `input`.
    pub fn record(&self, name: &str, input: &Value, now: DateTime<Utc>) -> StartRecord {
        StartRecord {
            execution_name: name.to_string(),
            started_by: self.started_by.clone(),
            starter_kind: self.starter_kind,
            channel: self.channel.clone(),
            event_id: self.event_id.clone(),
            source_ip: self.source_ip.clone(),
            input_sha256: input_digest(input),
            recorded_at: now,
        }
    }
}

/// The start record (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRecord {
    pub execution_name: String,
    /// The authenticated starter: an IAM ARN, `AWS:<unique id>`, an account id or
    /// `schedule:<rule>`; `None` when the event named nobody.
    pub started_by: Option<String>,
    pub starter_kind: StarterKind,
    /// `s3-notification`, `eventbridge`, `schedule` or `http`.
    pub channel: String,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
    /// [`input_digest`] of the execution input the trigger started.
    pub input_sha256: String,
    pub recorded_at: DateTime<Utc>,
}

/// Where the start record of `execution` lives in the artifacts bucket.
pub fn start_record_uri(bucket: &str, execution: &str) -> S3Uri {
    S3Uri::new(bucket, format!("pipeline/{execution}/start.json"))
}

/// SHA-256 (hex) of the input in a canonical form: object keys sorted at every level,
/// no whitespace. Step Functions hands the input back re-serialised
/// (`$$.Execution.Input` is a JSON object, its key order and number spelling are the
/// engine's), so the digest must not depend on either.
pub fn input_digest(input: &Value) -> String {
    let mut buf = String::new();
    canonical(input, &mut buf);
    hex::encode(Sha256::digest(buf.as_bytes()))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        Value::Number(n) => match n.as_f64() {
            // 1 and 1.0 are the same number to the engine.
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                out.push_str(&(f as i64).to_string())
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_digest_ignores_key_order_spacing_and_number_spelling() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2.0, "x": "s"}], "a": null}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":null,"b":[1.0,{"x":"s","y":2}]}"#).unwrap();
        assert_eq!(input_digest(&a), input_digest(&b));
        let c = json!({"a": null, "b": [1, {"x": "s", "y": 3}]});
        assert_ne!(input_digest(&a), input_digest(&c));
        // Strings are escaped, so a key cannot smuggle structure.
        assert_ne!(
            input_digest(&json!({"a\":1,\"b": 2})),
            input_digest(&json!({"a": 1, "b": 2}))
        );
        assert_eq!(input_digest(&json!({})).len(), 64);
    }

    #[test]
    fn the_canonical_form_is_pythons_sorted_compact_json() {
        // tests/e2e/stack.py seeds a start record with
        // json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False):
        // the same text, so the same digest.
        let v: Value = serde_json::from_str(
            r#"{"trigger": {"type": "manual", "started_by": "arn:aws:iam::1:user/carol", "n": 2},
                "data": {"prefix": "data/é", "bucket": "b"}}"#,
        )
        .unwrap();
        let mut text = String::new();
        canonical(&v, &mut text);
        assert_eq!(
            text,
            r#"{"data":{"bucket":"b","prefix":"data/é"},"trigger":{"n":2,"started_by":"arn:aws:iam::1:user/carol","type":"manual"}}"#
        );
        assert_eq!(
            input_digest(&v),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }

    #[test]
    fn the_record_round_trips() {
        let r = StartRecord {
            execution_name: "new-x".into(),
            started_by: Some("AWS:AIDAEXAMPLE".into()),
            starter_kind: StarterKind::S3Uploader,
            channel: "s3-notification".into(),
            event_id: Some("e".into()),
            source_ip: None,
            input_sha256: input_digest(&json!({"a": 1})),
            recorded_at: Utc::now(),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["starter_kind"], "s3-uploader");
        assert_eq!(serde_json::from_value::<StartRecord>(v).unwrap(), r);
        assert_eq!(
            start_record_uri("b", "new-x").to_string(),
            "s3://b/pipeline/new-x/start.json"
        );
    }
}
