//! Choosing what to start: from a decoded event to the executions to start.
//!
//! [`plan`] is pure: it decides which executions to start, with which names and inputs,
//! and which objects to ignore (folder markers, keys outside the data prefix, empty
//! objects). The [`start`](super::start) step then runs the plan.

use serde_json::{json, Value};

use super::config::{TriggerConfig, TriggerMode};
use super::{execution_name, TriggerError};
use crate::events::{Channel, ObjectCreated, ScheduleTick, TriggerEvent};
use crate::origin::{StartOrigin, StarterKind};

/// One decision of the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Start an execution with this name and input; `origin` becomes its start record.
    Start {
        name: String,
        input: Value,
        origin: StartOrigin,
    },
    /// Nothing to start, and why.
    Ignore { what: String, reason: String },
}

/// Decide what to start. Pure.
pub fn plan(event: &TriggerEvent, cfg: &TriggerConfig) -> Result<Vec<Plan>, TriggerError> {
    match event {
        TriggerEvent::Nothing(why) => Ok(vec![Plan::Ignore {
            what: "event".into(),
            reason: why.clone(),
        }]),
        TriggerEvent::Objects(objs) => Ok(objs.iter().map(|o| plan_object(o, cfg)).collect()),
        TriggerEvent::Schedule(tick) => Ok(vec![plan_schedule(tick, cfg)?]),
    }
}

fn plan_object(o: &ObjectCreated, cfg: &TriggerConfig) -> Plan {
    let what = format!("s3://{}/{}", o.bucket, o.key);
    let ignore = |reason: &str| Plan::Ignore {
        what: what.clone(),
        reason: reason.to_string(),
    };
    if o.key.ends_with('/') {
        return ignore("a folder marker, not data");
    }
    if !o.key.starts_with(&cfg.data_prefix) {
        return ignore(&format!("outside the data prefix {:?}", cfg.data_prefix));
    }
    let file = o.key.rsplit('/').next().unwrap_or("");
    let prefix = match &cfg.mode {
        TriggerMode::Object => {
            if o.size == Some(0) {
                return ignore("an empty object");
            }
            o.key.clone()
        }
        TriggerMode::Marker(marker) => {
            if file != marker {
                return ignore(&format!(
                    "not the marker {marker:?}: the run starts when the marker lands"
                ));
            }
            o.key[..o.key.len() - file.len()].to_string()
        }
    };
    let origin = StartOrigin {
        started_by: o.requester.clone(),
        starter_kind: match o.channel {
            Channel::S3Notification => StarterKind::S3Uploader,
            _ => StarterKind::Account,
        },
        channel: channel_name(o.channel).into(),
        event_id: o.event_id.clone(),
        source_ip: o.source_ip.clone(),
    };
    let input = json!({
        "trigger": {
            "type": "new-data",
            "source": o.channel,
            "bucket": o.bucket,
            "key": o.key,
            "version_id": o.version_id,
            "etag": o.etag,
            "size": o.size,
            "event_time": o.event_time,
            "event_id": o.event_id,
            // For the record only: the approval gate reads the starter from the start
            // record, never from the input.
            "started_by": o.requester,
        },
        "data": {"bucket": o.bucket, "prefix": prefix},
    });
    Plan::Start {
        name: execution_name::for_object(o),
        input: with_parameters(input, cfg),
        origin,
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::S3Notification => "s3-notification",
        Channel::Eventbridge => "eventbridge",
        Channel::Schedule => "schedule",
    }
}

fn plan_schedule(tick: &ScheduleTick, cfg: &TriggerConfig) -> Result<Plan, TriggerError> {
    let bucket = cfg.data_bucket.clone().ok_or_else(|| {
        TriggerError::Misconfigured(
            "TRAINGUARD_DATA_BUCKET is not set: a scheduled run needs its data".into(),
        )
    })?;
    let started_by = format!("schedule:{}", tick.rule.as_deref().unwrap_or("unknown"));
    let input = json!({
        "trigger": {
            "type": "schedule",
            "source": "schedule",
            "rule": tick.rule,
            "event_time": tick.time,
            "event_id": tick.event_id,
            "started_by": started_by,
        },
        "data": {"bucket": bucket, "prefix": cfg.data_prefix},
    });
    Ok(Plan::Start {
        name: execution_name::for_schedule(tick),
        input: with_parameters(input, cfg),
        origin: StartOrigin {
            started_by: Some(started_by),
            starter_kind: StarterKind::Schedule,
            channel: "schedule".into(),
            event_id: tick.event_id.clone(),
            source_ip: None,
        },
    })
}

pub(super) fn with_parameters(mut input: Value, cfg: &TriggerConfig) -> Value {
    if let (Some(p), Some(o)) = (&cfg.parameters, input.as_object_mut()) {
        o.insert("parameters".into(), p.clone());
    }
    input
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::error::ErrorName;
    use crate::events::decode;

    /// Settings with a state machine and a data bucket (shared with `start`'s tests).
    pub(in crate::trigger) fn cfg() -> TriggerConfig {
        TriggerConfig {
            state_machine_arn: Some(
                "arn:aws:states:us-east-1:123456789012:stateMachine:tg-pipeline".into(),
            ),
            data_bucket: Some("art-bkt".into()),
            artifacts_bucket: Some("art-bkt".into()),
            ..TriggerConfig::default()
        }
    }

    /// An S3 event notification for `art-bkt/<key>`.
    pub(in crate::trigger) fn s3_event(key: &str, size: i64) -> Value {
        json!({"Records": [{
            "eventTime": "2026-11-22T00:10:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "X"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
            "responseElements": {}, "s3": {"bucket": {"name": "art-bkt"},
            "object": {"key": key, "size": size, "eTag": "e1", "versionId": "v1", "sequencer": "01"}}}]})
    }

    /// An EventBridge "Object Created" event for `art-bkt/<key>`.
    pub(in crate::trigger) fn eb_event(key: &str) -> Value {
        json!({"version": "0", "id": "ev-1", "detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-22T00:10:00Z",
               "detail": {"bucket": {"name": "art-bkt"}, "object": {"key": key, "size": 10, "etag": "e1", "version-id": "v1"}}})
    }

    #[test]
    fn the_input_carries_the_trigger_context() {
        let plans = plan(&decode(&eb_event("data/day/x.csv")).unwrap(), &cfg()).unwrap();
        let Plan::Start { input, .. } = &plans[0] else {
            panic!("start")
        };
        assert_eq!(input["trigger"]["type"], "new-data");
        assert_eq!(input["trigger"]["source"], "eventbridge");
        assert_eq!(input["trigger"]["version_id"], "v1");
        assert_eq!(
            input["data"],
            json!({"bucket": "art-bkt", "prefix": "data/day/x.csv"})
        );
        assert!(input.get("parameters").is_none());
        // EventBridge names only the account that wrote the object.
        let eb = json!({"version": "0", "id": "ev-2", "detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-22T00:10:00Z",
               "detail": {"bucket": {"name": "art-bkt"}, "object": {"key": "data/y.csv", "size": 10, "etag": "e1"},
                          "requester": "123456789012", "source-ip-address": "198.51.100.9"}});
        let Plan::Start { origin, .. } = &plan(&decode(&eb).unwrap(), &cfg()).unwrap()[0] else {
            panic!("start")
        };
        assert_eq!(origin.started_by.as_deref(), Some("123456789012"));
        assert_eq!(origin.starter_kind, StarterKind::Account);
        assert_eq!(origin.source_ip.as_deref(), Some("198.51.100.9"));
    }

    #[test]
    fn an_s3_notification_names_the_uploader() {
        let plans = plan(&decode(&s3_event("data/x.csv", 5)).unwrap(), &cfg()).unwrap();
        let Plan::Start { origin, input, .. } = &plans[0] else {
            panic!("start")
        };
        assert_eq!(origin.started_by.as_deref(), Some("X"));
        assert_eq!(origin.starter_kind, StarterKind::S3Uploader);
        assert_eq!(origin.channel, "s3-notification");
        assert_eq!(input["trigger"]["started_by"], "X");
    }

    #[test]
    fn ignored_objects() {
        let c = cfg();
        for (key, size) in [("data/", 0), ("other/x.csv", 5), ("data/empty.csv", 0)] {
            let plans = plan(&decode(&s3_event(key, size)).unwrap(), &c).unwrap();
            assert!(matches!(plans[0], Plan::Ignore { .. }), "{key}");
        }
    }

    #[test]
    fn marker_mode_runs_over_the_directory() {
        let c = TriggerConfig {
            mode: TriggerMode::Marker("_SUCCESS".into()),
            ..cfg()
        };
        let plans = plan(
            &decode(&eb_event("data/2026-11-22/part-0001.csv")).unwrap(),
            &c,
        )
        .unwrap();
        assert!(matches!(plans[0], Plan::Ignore { .. }));
        let plans = plan(&decode(&eb_event("data/2026-11-22/_SUCCESS")).unwrap(), &c).unwrap();
        let Plan::Start { input, .. } = &plans[0] else {
            panic!("start")
        };
        assert_eq!(input["data"]["prefix"], "data/2026-11-22/");
    }

    #[test]
    fn schedule_needs_a_data_bucket() {
        let tick = decode(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T00:00:00Z",
                                   "resources": ["arn:aws:events:us-east-1:1:rule/r"], "detail": {}}))
        .unwrap();
        let c = TriggerConfig {
            parameters: Some(json!({"sweep": []})),
            ..cfg()
        };
        let plans = plan(&tick, &c).unwrap();
        let Plan::Start {
            input,
            name,
            origin,
        } = &plans[0]
        else {
            panic!("start")
        };
        assert_eq!(origin.starter_kind, StarterKind::Schedule);
        assert_eq!(
            origin.started_by.as_deref(),
            Some("schedule:arn:aws:events:us-east-1:1:rule/r")
        );
        assert_eq!(
            input["data"],
            json!({"bucket": "art-bkt", "prefix": "data/"})
        );
        assert_eq!(input["trigger"]["type"], "schedule");
        assert_eq!(input["parameters"], json!({"sweep": []}));
        assert!(name.starts_with("scheduled-"));
        let e = plan(
            &tick,
            &TriggerConfig {
                data_bucket: None,
                ..cfg()
            },
        )
        .unwrap_err();
        assert_eq!(e.error_name(), "Trigger.Misconfigured");
    }
}
