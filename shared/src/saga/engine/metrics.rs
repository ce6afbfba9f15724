//! The run's CloudWatch metrics (EMF documents): one per action (outcome, duration,
//! objects deleted, key errors, retries) and one summary per run.
//!
//! Kept out of the run loop so the metric names and dimensions, which dashboards and
//! alarms depend on, are all in one place.

use std::time::Instant;

use super::report::Report;
use super::Compensator;
use crate::aws::{S3Ops, SageMakerOps};
use crate::saga::input::Request;
use crate::saga::plan::PlannedAction;
use crate::telemetry::{Metrics, Unit};

impl<S: S3Ops, M: SageMakerOps> Compensator<S, M> {
    /// The metrics of one action.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn action_metrics(
        &self,
        req: &Request,
        pa: &PlannedAction,
        outcome: &str,
        ms: f64,
        deleted: u64,
        key_errors: u64,
        retries: u64,
    ) -> Metrics {
        let mut m = Metrics::new(&self.function);
        m.property("ExecutionName", req.execution_name.as_str())
            .property("FailedStage", req.stage.as_str())
            .property("Action", pa.id.as_str())
            .property("ActionKind", pa.action.kind())
            .property("Outcome", outcome);
        let counter = match outcome {
            "done" => "ActionsDone",
            "skipped" => "ActionsSkipped",
            _ => "ActionsFailed",
        };
        m.count(counter, 1)
            .put("ActionDurationMs", ms, Unit::Milliseconds);
        if deleted > 0 {
            m.count("ObjectsDeleted", deleted);
        }
        if key_errors > 0 {
            m.count("KeyErrors", key_errors);
        }
        if retries > 0 {
            m.count("Retries", retries);
        }
        m
    }

    /// The summary metrics of one run.
    pub(super) fn summary_metrics(
        &self,
        req: &Request,
        report: &Report,
        started: Instant,
    ) -> Metrics {
        let mut m = Metrics::new(&self.function);
        m.property("ExecutionName", req.execution_name.as_str())
            .property("FailedStage", req.stage.as_str())
            .property("RunId", report.run_id.as_str());
        m.count("CompensationRuns", 1)
            .count("CompensationIncomplete", u64::from(!report.is_complete()))
            .count("ActionsRemaining", report.remaining.len() as u64)
            .count("ObjectsDeletedTotal", report.objects_deleted)
            .put(
                "RunDurationMs",
                started.elapsed().as_secs_f64() * 1000.0,
                Unit::Milliseconds,
            );
        m
    }
}
