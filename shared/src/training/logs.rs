//! Reading the end of a training job's CloudWatch Logs when its FailureReason says too
//! little.
//!
//! SageMaker writes each host's container output to the log group
//! `/aws/sagemaker/TrainingJobs`, one stream per host named
//! `<training-job-name>/algo-<k>-<epoch-seconds>`. The decisive line of a crash is near
//! the end, so only the tail of each stream is read (GetLogEvents with
//! `startFromHead=false`). The reader sits behind the small [`LogSource`] trait so the
//! planner is tested with [`InMemoryLogs`] and the real client is tested against moto.

use std::collections::BTreeMap;
use std::future::Future;

use crate::error::CommonError;

/// The log group SageMaker training jobs write to.
pub const TRAINING_LOG_GROUP: &str = "/aws/sagemaker/TrainingJobs";

/// The last lines of one host's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTail {
    pub stream: String,
    pub lines: Vec<String>,
}

/// Where log tails come from.
pub trait LogSource {
    /// The last `max_lines` lines of each stream of `job_name` (at most `max_streams`
    /// streams, in stream-name order). No streams is `Ok(vec![])`.
    fn job_tails(
        &self,
        job_name: &str,
        max_lines: usize,
        max_streams: usize,
    ) -> impl Future<Output = Result<Vec<StreamTail>, CommonError>> + Send;
}

/// No logs at all (the CLI without `--fetch-logs`, callers that cannot reach AWS).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLogs;

impl LogSource for NoLogs {
    // Written out (not `async fn`) so the `+ Send` promise of the trait is visible here.
    #[allow(clippy::manual_async_fn)]
    fn job_tails(
        &self,
        _job_name: &str,
        _max_lines: usize,
        _max_streams: usize,
    ) -> impl Future<Output = Result<Vec<StreamTail>, CommonError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// Streams held in memory: stream name → lines. For unit tests and for the CLI's
/// `--logs <file>` option.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLogs {
    pub streams: BTreeMap<String, Vec<String>>,
}

impl InMemoryLogs {
    /// Add the lines of one stream.
    pub fn with_stream(mut self, stream: &str, text: &str) -> Self {
        self.streams.insert(
            stream.to_string(),
            text.lines().map(str::to_string).collect(),
        );
        self
    }
}

/// The stream-name prefix of a job: the name followed by `/`, so that `job-1` does not
/// pick up the streams of `job-10`.
pub fn stream_prefix(job_name: &str) -> String {
    format!("{job_name}/")
}

impl LogSource for InMemoryLogs {
    fn job_tails(
        &self,
        job_name: &str,
        max_lines: usize,
        max_streams: usize,
    ) -> impl Future<Output = Result<Vec<StreamTail>, CommonError>> + Send {
        let prefix = stream_prefix(job_name);
        let tails = self
            .streams
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .take(max_streams)
            .map(|(name, lines)| StreamTail {
                stream: name.clone(),
                lines: lines[lines.len().saturating_sub(max_lines)..].to_vec(),
            })
            .collect();
        async move { Ok(tails) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_tails_respect_prefix_and_limits() {
        let logs = InMemoryLogs::default()
            .with_stream("job-1/algo-1-1700000000", "a\nb\nc\nd")
            .with_stream("job-1/algo-2-1700000000", "x")
            .with_stream("job-10/algo-1-1700000000", "not mine");
        let tails = logs.job_tails("job-1", 2, 10).await.unwrap();
        assert_eq!(tails.len(), 2);
        assert_eq!(tails[0].lines, ["c", "d"]);
        assert_eq!(tails[1].stream, "job-1/algo-2-1700000000");
        assert_eq!(logs.job_tails("job-1", 2, 1).await.unwrap().len(), 1);
        assert!(NoLogs.job_tails("job-1", 2, 1).await.unwrap().is_empty());
    }
}
