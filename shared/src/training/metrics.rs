//! The EMF metrics of one recovery decision (batch-size-adjuster).

use super::{Action, Decision, EvidenceSource};
use crate::telemetry::{Metrics, Unit};

/// Counts by action, the wait, and whether the logs decided. The class, kind and halt
/// reason ride along as properties (not dimensions, to keep metric cardinality bounded).
pub fn metrics(d: &Decision, execution: Option<&str>) -> Metrics {
    let mut m = Metrics::new("batch-size-adjuster");
    m.count("Decisions", 1)
        .count("Retries", u64::from(d.action == Action::Retry))
        .count(
            "WaitThenRetries",
            u64::from(d.action == Action::WaitThenRetry),
        )
        .count("Halts", u64::from(d.action == Action::Halt))
        .count(
            "DecidedFromLogs",
            u64::from(d.evidence.source == EvidenceSource::CloudWatchLogs),
        )
        .put("WaitSeconds", d.wait_seconds as f64, Unit::Seconds)
        .put("Attempt", f64::from(d.attempt), Unit::Count);
    m.property("Class", format!("{:?}", d.class))
        .property("Kind", format!("{:?}", d.kind));
    if let Some(h) = &d.halt_reason {
        m.property("HaltReason", h.clone());
    }
    if let Some(e) = execution {
        m.property("ExecutionName", e);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::{recover, NoLogs};

    #[test]
    fn an_oom_retry_counts_as_a_retry_with_its_class_and_execution() {
        let path = crate::test_support::repo_path("events/batch-size-adjuster/job-failed-oom.json");
        let event: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let d = futures::executor::block_on(recover(&event, &NoLogs)).unwrap();
        assert_eq!(d.action, Action::Retry, "{d:?}");
        let emf = metrics(&d, Some("run-1")).to_emf(0);
        assert_eq!(emf["Decisions"], 1.0);
        assert_eq!(emf["Retries"], 1.0);
        assert_eq!(emf["Halts"], 0.0);
        assert_eq!(emf["Class"], "Resource");
        assert_eq!(emf["ExecutionName"], "run-1");
    }
}
