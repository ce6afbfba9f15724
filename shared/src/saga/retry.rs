//! Retrying throttled calls with exponential backoff and jitter.
//!
//! The SDK already retries a few times on its own; this layer exists so throttling
//! that outlasts the SDK's attempts, and per-key `SlowDown`/`InternalError` replies
//! inside a successful DeleteObjects (which the SDK never retries), are retried too.
//! Only transient failures are retried: "not found", conflicts and access denied go
//! straight back to the caller, which knows what they mean for its action.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::aws::AwsError;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Total attempts per call (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time, capped at `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Retries made so far (for the metrics).
    pub retries: Arc<AtomicU64>,
}

impl Retry {
    pub fn new(max_attempts: u32, base_delay: Duration) -> Self {
        Retry {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay: Duration::from_secs(10),
            retries: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The delay before retry number `attempt` (1-based): exponential, with jitter in
    /// `[d/2, d]` so concurrent runs do not retry in lockstep.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let d = exp.min(self.max_delay);
        if d.is_zero() {
            return d;
        }
        let half = d / 2;
        half + Duration::from_nanos(
            rand::thread_rng().gen_range(0..=half.as_nanos().min(u64::MAX as u128) as u64),
        )
    }

    /// Count one retry and sleep before it.
    pub async fn pause(&self, attempt: u32) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.delay(attempt)).await;
    }

    /// Retries made so far.
    pub fn count(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Run `f` until it succeeds, fails with a non-transient error, or the attempts are used up.
    pub async fn run<T, F, Fut>(&self, mut f: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if e.is_transient() && attempt < self.max_attempts => {
                    tracing::warn!(operation = %e.operation, code = %e.code, attempt, "transient failure; retrying");
                    self.pause(attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test]
    async fn retries_only_transient_errors_and_stops_at_the_limit() {
        let r = Retry::new(3, Duration::from_millis(1));
        let calls = AtomicU32::new(0);
        let out: Result<(), AwsError> = r
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(AwsError::new(
                    "StopTrainingJob",
                    "ThrottlingException",
                    "Rate exceeded",
                    Some(400),
                ))
            })
            .await;
        assert_eq!(out.unwrap_err().code, "ThrottlingException");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(r.count(), 2);

        let calls = AtomicU32::new(0);
        let out: Result<(), AwsError> = r
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(AwsError::new(
                    "DescribeEndpoint",
                    "ValidationException",
                    "Could not find endpoint \"e\".",
                    Some(400),
                ))
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not found is not retried");

        let calls = AtomicU32::new(0);
        let out = r
            .run(|| async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(AwsError::new(
                        "DeleteObjects",
                        "SlowDown",
                        "Please reduce your request rate.",
                        Some(503),
                    ))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(out.unwrap(), 7);
    }

    #[test]
    fn delay_grows_and_is_capped() {
        let r = Retry::new(10, Duration::from_millis(100));
        let d1 = r.delay(1);
        assert!(
            d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
            "{d1:?}"
        );
        let d4 = r.delay(4);
        assert!(
            d4 >= Duration::from_millis(400) && d4 <= Duration::from_millis(800),
            "{d4:?}"
        );
        assert!(r.delay(30) <= Duration::from_secs(10));
    }
}
