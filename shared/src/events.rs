//! Decoding the three event shapes that start work into one model: the one decoder of S3
//! event notifications and EventBridge events, used by the pipeline trigger and the
//! schema validator alike.
//!
//! The same object can arrive through an S3 event notification (key URL-encoded, `+` for
//! a space, `eTag`/`versionId`) and through EventBridge (key plain, `etag`/`version-id`).
//! Both decode to the same [`ObjectCreated`], so both yield the same execution name.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use serde_json::Value;

use crate::error::CommonError;

/// Which channel delivered the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    S3Notification,
    Eventbridge,
    Schedule,
}

/// A new object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    pub version_id: Option<String>,
    /// The ETag without quotes.
    pub etag: Option<String>,
    pub size: Option<i64>,
    pub event_time: Option<String>,
    pub event_id: Option<String>,
    pub channel: Channel,
    /// Who wrote the object, as S3 reports it: an S3 notification's
    /// `userIdentity.principalId` (`AWS:AIDA…` for a user, `AWS:AROA…:<session>` for a
    /// role session), or EventBridge's `detail.requester` (an account id or service
    /// principal: EventBridge names no person). Recorded as the run's starter.
    pub requester: Option<String>,
    /// `requestParameters.sourceIPAddress` / `detail.source-ip-address`.
    pub source_ip: Option<String>,
}

impl ObjectCreated {
    /// What identifies this content: the version id on versioned buckets, else the ETag.
    pub fn content_id(&self) -> &str {
        self.version_id
            .as_deref()
            .filter(|v| !v.is_empty() && *v != "null")
            .or(self.etag.as_deref())
            .unwrap_or("")
    }
}

/// A tick of the retraining schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTick {
    /// RFC 3339 time of the scheduled event (the same for every delivery of one tick).
    pub time: String,
    /// The rule that fired.
    pub rule: Option<String>,
    pub event_id: Option<String>,
}

/// What an event asks the trigger to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerEvent {
    /// New objects (S3 notifications may carry several records).
    Objects(Vec<ObjectCreated>),
    /// A schedule tick.
    Schedule(ScheduleTick),
    /// A delivery that asks for nothing (S3's `s3:TestEvent`, an `ObjectRemoved` record):
    /// acknowledged, not an error, so nothing retries it.
    Nothing(String),
}

/// Decode an event.
pub fn decode(v: &Value) -> Result<TriggerEvent, CommonError> {
    if v.get("Records").is_some() {
        return decode_s3(v);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(TriggerEvent::Nothing("s3:TestEvent".into()));
    }
    if v.get("detail-type").is_some() {
        return decode_eventbridge(v);
    }
    Err(CommonError::InvalidInput(
        "expected an S3 event notification (Records), an EventBridge event (detail-type) or a task (task)".into(),
    ))
}

fn decode_s3(v: &Value) -> Result<TriggerEvent, CommonError> {
    let event: S3Event = serde_json::from_value(v.clone())
        .map_err(|e| CommonError::InvalidInput(format!("S3 event notification: {e}")))?;
    let mut objects = Vec::new();
    let mut skipped = Vec::new();
    for r in event.records {
        let name = r.event_name.clone().unwrap_or_default();
        if !name.starts_with("ObjectCreated") {
            skipped.push(name);
            continue;
        }
        let bucket =
            r.s3.bucket
                .name
                .clone()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| CommonError::MissingField("Records[].s3.bucket.name".into()))?;
        let raw_key =
            r.s3.object
                .key
                .clone()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| CommonError::MissingField("Records[].s3.object.key".into()))?;
        objects.push(ObjectCreated {
            bucket,
            key: crate::storage::decode_notification_key(&raw_key)?,
            version_id: r.s3.object.version_id.clone().filter(|s| !s.is_empty()),
            etag: r
                .s3
                .object
                .e_tag
                .as_deref()
                .map(|e| unquote(e).to_string())
                .filter(|s| !s.is_empty()),
            size: r.s3.object.size,
            event_time: Some(
                r.event_time
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            event_id: r.s3.object.sequencer.clone(),
            channel: Channel::S3Notification,
            requester: r
                .principal_id
                .principal_id
                .clone()
                .filter(|p| !p.trim().is_empty()),
            source_ip: r
                .request_parameters
                .source_ip_address
                .clone()
                .filter(|p| !p.trim().is_empty()),
        });
    }
    if objects.is_empty() {
        return Ok(TriggerEvent::Nothing(format!(
            "no ObjectCreated records ({})",
            skipped.join(", ")
        )));
    }
    Ok(TriggerEvent::Objects(objects))
}

fn decode_eventbridge(v: &Value) -> Result<TriggerEvent, CommonError> {
    let event: EventBridgeEvent<Value> = serde_json::from_value(v.clone())
        .map_err(|e| CommonError::InvalidInput(format!("EventBridge event: {e}")))?;
    let time = event
        .time
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match (event.source.as_str(), event.detail_type.as_str()) {
        ("aws.s3", "Object Created") => {
            let d = &event.detail;
            let s = |path: &[&str]| {
                let mut cur = d;
                for p in path {
                    cur = cur.get(*p)?;
                }
                cur.as_str().map(str::to_string)
            };
            let bucket = s(&["bucket", "name"]).filter(|b| !b.is_empty()).ok_or_else(|| CommonError::MissingField("detail.bucket.name".into()))?;
            let key = s(&["object", "key"]).filter(|k| !k.is_empty()).ok_or_else(|| CommonError::MissingField("detail.object.key".into()))?;
            Ok(TriggerEvent::Objects(vec![ObjectCreated {
                bucket,
                key,
                version_id: s(&["object", "version-id"]).filter(|s| !s.is_empty()),
                etag: s(&["object", "etag"]).map(|e| unquote(&e).to_string()).filter(|s| !s.is_empty()),
                size: d.get("object").and_then(|o| o.get("size")).and_then(Value::as_i64),
                event_time: time,
                event_id: event.id,
                channel: Channel::Eventbridge,
                requester: s(&["requester"]).filter(|r| !r.trim().is_empty()),
                source_ip: s(&["source-ip-address"]).filter(|r| !r.trim().is_empty()),
            }]))
        }
        (_, "Scheduled Event") => Ok(TriggerEvent::Schedule(ScheduleTick {
            time: time.ok_or_else(|| CommonError::MissingField("time".into()))?,
            rule: event.resources.and_then(|r| r.into_iter().next()),
            event_id: event.id,
        })),
        (source, dt) => Err(CommonError::InvalidInput(format!(
            "EventBridge event {source:?} / {dt:?} is neither an S3 \"Object Created\" nor a \"Scheduled Event\""
        ))),
    }
}

fn unquote(s: &str) -> &str {
    s.trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_record(name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-22T00:10:00.123Z", "eventName": name,
            "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
            "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "data-bkt", "ownerIdentity": {"principalId": "P"}, "arn": "arn:aws:s3:::data-bkt"},
                   "object": {"key": key, "size": 1024, "eTag": "0123abcd", "versionId": "v1", "sequencer": "0055AED6DCD90281E5"}}
        })
    }

    #[test]
    fn s3_notification_keys_are_decoded() {
        let v = json!({"Records": [s3_record("ObjectCreated:Put", "data/my+file%282%29.csv")]});
        let TriggerEvent::Objects(objs) = decode(&v).unwrap() else {
            panic!("objects")
        };
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].key, "data/my file(2).csv");
        assert_eq!(objs[0].bucket, "data-bkt");
        assert_eq!(objs[0].content_id(), "v1");
        assert_eq!(objs[0].channel, Channel::S3Notification);
        assert_eq!(objs[0].requester.as_deref(), Some("AWS:X"));
        assert_eq!(objs[0].source_ip.as_deref(), Some("1.2.3.4"));
        // an encoded '=' and '&' survive
        let v = json!({"Records": [s3_record("ObjectCreated:Put", "data/a%3Db%26c.csv")]});
        let TriggerEvent::Objects(objs) = decode(&v).unwrap() else {
            panic!("objects")
        };
        assert_eq!(objs[0].key, "data/a=b&c.csv");
    }

    #[test]
    fn removals_and_test_events_ask_for_nothing() {
        let v = json!({"Records": [s3_record("ObjectRemoved:Delete", "data/x.csv")]});
        assert!(matches!(decode(&v).unwrap(), TriggerEvent::Nothing(_)));
        let v = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        assert!(matches!(decode(&v).unwrap(), TriggerEvent::Nothing(_)));
    }

    #[test]
    fn eventbridge_object_created() {
        let v = json!({
            "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
            "source": "aws.s3", "account": "123456789012", "time": "2026-11-22T00:10:00Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::data-bkt"],
            "detail": {"version": "0", "bucket": {"name": "data-bkt"},
                       "object": {"key": "data/my file(2).csv", "size": 1024, "etag": "0123abcd", "version-id": "v1", "sequencer": "0055AED6DCD90281E5"},
                       "request-id": "R", "requester": "123456789012", "reason": "PutObject"}
        });
        let TriggerEvent::Objects(objs) = decode(&v).unwrap() else {
            panic!("objects")
        };
        assert_eq!(objs[0].key, "data/my file(2).csv");
        assert_eq!(objs[0].content_id(), "v1");
        assert_eq!(objs[0].channel, Channel::Eventbridge);
    }

    #[test]
    fn unversioned_objects_use_the_etag() {
        let mut r = s3_record("ObjectCreated:Put", "data/x.csv");
        r["s3"]["object"]["versionId"] = json!("null");
        r["s3"]["object"]["eTag"] = json!("\"abc\"");
        let TriggerEvent::Objects(objs) = decode(&json!({"Records": [r]})).unwrap() else {
            panic!()
        };
        assert_eq!(objs[0].content_id(), "abc");
    }

    #[test]
    fn scheduled_event() {
        let v = json!({
            "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-22T00:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/retrain"], "detail": {}
        });
        let TriggerEvent::Schedule(t) = decode(&v).unwrap() else {
            panic!("schedule")
        };
        assert_eq!(t.time, "2026-11-22T00:00:00Z");
        assert_eq!(
            t.rule.as_deref(),
            Some("arn:aws:events:us-east-1:123456789012:rule/retrain")
        );
    }

    #[test]
    fn malformed_events_are_input_errors() {
        use crate::error::ErrorName;
        for bad in [
            json!({}),
            json!({"Records": "x"}),
            json!({"Records": [{"eventName": "ObjectCreated:Put"}]}),
            json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}}}),
            json!({"detail-type": "Something", "source": "x", "detail": {}}),
            json!([1, 2]),
        ] {
            let e = decode(&bad).unwrap_err();
            assert!(e.error_name().starts_with("InputError."), "{bad}: {e}");
        }
    }
}
