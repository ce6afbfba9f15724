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

use crate::aws::classify_sdk_error;
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

/// The CloudWatch Logs reader.
#[derive(Debug, Clone)]
pub struct CloudWatchLogs {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
}

impl CloudWatchLogs {
    /// A reader of [`TRAINING_LOG_GROUP`].
    pub fn new(client: aws_sdk_cloudwatchlogs::Client) -> Self {
        CloudWatchLogs {
            client,
            group: TRAINING_LOG_GROUP.to_string(),
        }
    }

    /// A reader of another group (tests, custom setups).
    pub fn with_group(client: aws_sdk_cloudwatchlogs::Client, group: &str) -> Self {
        CloudWatchLogs {
            client,
            group: group.to_string(),
        }
    }

    async fn stream_names(
        &self,
        job_name: &str,
        max_streams: usize,
    ) -> Result<Vec<String>, CommonError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_log_streams()
                .log_group_name(&self.group)
                .log_stream_name_prefix(stream_prefix(job_name))
                .set_next_token(token.clone())
                .limit(50)
                .send()
                .await
                .map_err(|e| {
                    classify_sdk_error(&e, &format!("DescribeLogStreams {}", self.group))
                })?;
            names.extend(
                out.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name().map(str::to_string)),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() || names.len() >= max_streams || out.log_streams().is_empty() {
                break;
            }
        }
        names.sort();
        names.truncate(max_streams);
        Ok(names)
    }
}

impl LogSource for CloudWatchLogs {
    // Written out (not `async fn`) so the `+ Send` promise of the trait is visible here.
    #[allow(clippy::manual_async_fn)]
    fn job_tails(
        &self,
        job_name: &str,
        max_lines: usize,
        max_streams: usize,
    ) -> impl Future<Output = Result<Vec<StreamTail>, CommonError>> + Send {
        async move {
            let mut tails = Vec::new();
            // GetLogEvents takes at most 10,000 events per call; a tail needs far fewer.
            let limit = max_lines.clamp(1, 10_000) as i32;
            for stream in self.stream_names(job_name, max_streams).await? {
                let out = self
                    .client
                    .get_log_events()
                    .log_group_name(&self.group)
                    .log_stream_name(&stream)
                    .start_from_head(false)
                    .limit(limit)
                    .send()
                    .await
                    .map_err(|e| classify_sdk_error(&e, &format!("GetLogEvents {stream}")))?;
                let mut lines: Vec<String> = out
                    .events()
                    .iter()
                    .filter_map(|e| e.message())
                    .flat_map(|m| m.lines().map(str::to_string).collect::<Vec<_>>())
                    .collect();
                let cut = lines.len().saturating_sub(max_lines);
                lines.drain(..cut);
                tails.push(StreamTail { stream, lines });
            }
            Ok(tails)
        }
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
