//! Glue between lambda_runtime and the library: error names as `Diagnostic`s, the
//! execution name in every log line, and a deadline guard.
//!
//! Every function binary has one shape: a type implementing [`Function`] (what it builds
//! once per container, and what it does with one event: decode, call the library,
//! encode) and a `main` that calls [`run`]. Any error a handler returns is a
//! [`HandlerError`], which always carries a documented error name (lambda_runtime would
//! otherwise report the Rust type name, which no `ErrorEquals` can match).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "aws")]
use lambda_runtime::{service_fn, Context, Diagnostic, LambdaEvent};
use serde_json::Value;
#[cfg(feature = "aws")]
use tracing::Instrument;

#[cfg(feature = "aws")]
use crate::aws::Clients;
use crate::error::ErrorName;

/// An error leaving a handler: a documented name and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// The stable error name (Lambda `errorType`).
    pub name: &'static str,
    /// What went wrong and where.
    pub message: String,
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl<E: ErrorName> From<E> for HandlerError {
    fn from(e: E) -> Self {
        HandlerError {
            name: e.error_name(),
            message: e.to_string(),
        }
    }
}

#[cfg(feature = "aws")]
impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.name.to_string(),
            error_message: e.message,
        }
    }
}

/// The Step Functions execution name carried by an input, if any.
///
/// Accepts the fields the state machine passes (`execution_name`, `executionName`,
/// `ExecutionName`, or an `execution` object/ARN from `$$.Execution`), so every log line of
/// one run can be found by its name.
pub fn execution_name(input: &Value) -> Option<String> {
    for key in ["execution_name", "executionName", "ExecutionName"] {
        if let Some(s) = input.get(key).and_then(Value::as_str) {
            return Some(s.to_string());
        }
    }
    match input.get("execution") {
        Some(Value::String(s)) => Some(s.rsplit(':').next().unwrap_or(s).to_string()),
        Some(Value::Object(o)) => o
            .get("Name")
            .or_else(|| o.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Deadlines below this (2001-09-09 in epoch milliseconds) are durations sent by a
/// local emulator, not epoch times; see [`Deadline::from_context`].
const EMULATOR_CUTOFF_MS: u64 = 1_000_000_000_000;

/// Time left before the Lambda deadline, with a safety margin, so long loops can stop
/// cleanly (and say how far they got) instead of being killed.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Option<SystemTime>,
}

impl Deadline {
    /// No deadline (CLI, tests).
    pub fn none() -> Self {
        Deadline { at: None }
    }

    /// The invocation deadline minus `margin`.
    #[cfg(feature = "aws")]
    pub fn from_context(ctx: &Context, margin: Duration) -> Self {
        Self::from_deadline_ms(ctx.deadline, margin, SystemTime::now())
    }

    /// `Lambda-Runtime-Deadline-Ms` is an absolute epoch time in milliseconds on AWS.
    /// Local emulators differ: `cargo lambda watch` 1.9 sends `600000` (meaning ten
    /// minutes), which read as an epoch time lies in 1970, so every invocation would
    /// stop at once. A value before [`EMULATOR_CUTOFF_MS`] cannot be a real deadline
    /// and is read as a duration from `now` instead.
    fn from_deadline_ms(deadline_ms: u64, margin: Duration, now: SystemTime) -> Self {
        let at = if deadline_ms < EMULATOR_CUTOFF_MS {
            now + Duration::from_millis(deadline_ms)
        } else {
            UNIX_EPOCH + Duration::from_millis(deadline_ms)
        };
        Deadline {
            at: at.checked_sub(margin),
        }
    }

    /// A deadline `d` from now (tests).
    pub fn after(d: Duration) -> Self {
        Deadline {
            at: Some(SystemTime::now() + d),
        }
    }

    /// True once the (margined) deadline has passed.
    pub fn expired(&self) -> bool {
        self.at.map(|at| SystemTime::now() >= at).unwrap_or(false)
    }

    /// Time left, if bounded.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
    }
}

/// The safety margin before the deadline: `TRAINGUARD_DEADLINE_MARGIN_MS`, default 10 s.
pub fn deadline_margin() -> Duration {
    Duration::from_millis(
        std::env::var("TRAINGUARD_DEADLINE_MARGIN_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000),
    )
}

/// What a handler knows about the invocation it serves.
#[cfg(feature = "aws")]
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The Lambda deadline minus [`deadline_margin`].
    pub deadline: Deadline,
    /// The Step Functions execution the event belongs to, when it says.
    pub execution_name: Option<String>,
    /// The runtime's context (request id, ARN, ...).
    pub context: Context,
}

#[cfg(feature = "aws")]
/// One Lambda function of the project. `functions/<role>/src/main.rs` implements it for
/// a small struct and its `main` is `trainguard::lambda::run::<ThatStruct>().await`.
pub trait Function: Sized + Send + Sync {
    /// The function's name, as in logs and metrics (the binary name).
    const NAME: &'static str;

    /// The cold start: build what every invocation shares (clients, settings) once per
    /// container, outside the handler. A setting that does not parse is kept as an error
    /// for [`Function::handle`] to return, so the function still answers with a name.
    fn init(clients: Clients) -> Self;

    /// One event: decode it, call the library, encode the result.
    fn handle(
        &self,
        event: Value,
        invocation: &Invocation,
    ) -> impl Future<Output = Result<Value, HandlerError>> + Send;
}

#[cfg(feature = "aws")]
/// Run a [`Function`] on the Lambda runtime: clients from the standard environment
/// (`AWS_ENDPOINT_URL*` included), then [`serve`].
pub async fn run<F: Function>() -> Result<(), lambda_runtime::Error> {
    let function = F::init(Clients::from_env().await);
    let function = &function;
    let margin = deadline_margin();
    serve(F::NAME, move |event: Value, context: Context| async move {
        let invocation = Invocation {
            deadline: Deadline::from_context(&context, margin),
            execution_name: execution_name(&event),
            context,
        };
        function.handle(event, &invocation).await
    })
    .await
}

#[cfg(feature = "aws")]
/// Run a JSON-in/JSON-out handler on the Lambda runtime with JSON logs, an
/// `invocation` span carrying the function, request id and execution name, and errors
/// reported under their documented names.
pub async fn serve<F, Fut>(function: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Value, Context) -> Fut,
    Fut: Future<Output = Result<Value, HandlerError>>,
{
    crate::telemetry::init_lambda_logging();
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (payload, ctx) = event.into_parts();
        let execution = execution_name(&payload).unwrap_or_default();
        let span = tracing::info_span!(
            "invocation",
            function,
            request_id = %ctx.request_id,
            execution_name = %execution
        );
        async move {
            let result = handler(payload, ctx).await;
            if let Err(e) = &result {
                tracing::error!(error_name = e.name, error_message = %e.message, "invocation failed");
            }
            result.map_err(Diagnostic::from)
        }
        .instrument(span)
        .await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CommonError;
    use serde_json::json;

    #[cfg(feature = "aws")]
    #[test]
    fn handler_error_keeps_documented_name() {
        let e: HandlerError = CommonError::MissingField("data".into()).into();
        let d: Diagnostic = e.into();
        assert_eq!(d.error_type, "InputError.MissingField");
        assert!(d.error_message.contains("data"));
    }

    #[test]
    fn execution_name_from_each_shape() {
        assert_eq!(
            execution_name(&json!({"execution_name": "a"})).as_deref(),
            Some("a")
        );
        assert_eq!(
            execution_name(&json!({"ExecutionName": "b"})).as_deref(),
            Some("b")
        );
        assert_eq!(
            execution_name(&json!({"execution": "arn:aws:states:us-east-1:1:execution:sm:c"}))
                .as_deref(),
            Some("c")
        );
        assert_eq!(
            execution_name(&json!({"execution": {"Name": "d"}})).as_deref(),
            Some("d")
        );
        assert_eq!(execution_name(&json!({"x": 1})), None);
    }

    #[test]
    fn deadline_expires() {
        assert!(!Deadline::none().expired());
        assert!(Deadline::after(Duration::from_millis(0)).expired());
        assert!(!Deadline::after(Duration::from_secs(60)).expired());
    }

    #[test]
    fn an_epoch_deadline_is_absolute_and_an_emulator_duration_is_relative() {
        let now = SystemTime::now();
        let epoch_ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let margin = Duration::from_secs(10);
        // AWS: 60 s from now, minus the margin: about 50 s left.
        let aws = Deadline::from_deadline_ms(epoch_ms(now + Duration::from_secs(60)), margin, now);
        let left = aws.remaining().unwrap();
        assert!(
            left > Duration::from_secs(45) && left <= Duration::from_secs(50),
            "{left:?}"
        );
        // An absolute deadline already past is expired.
        let past = Deadline::from_deadline_ms(epoch_ms(now - Duration::from_secs(1)), margin, now);
        assert!(past.expired());
        // cargo lambda watch's 600000: ten minutes from now, not 1970.
        let emu = Deadline::from_deadline_ms(600_000, margin, now);
        assert!(!emu.expired());
        let left = emu.remaining().unwrap();
        assert!(
            left > Duration::from_secs(580) && left <= Duration::from_secs(590),
            "{left:?}"
        );
    }
}
