//! An optional hook that watches a compensation run, for progress displays (the CLI's
//! progress line while `trainguard compensate` deletes many objects).
//!
//! Scoped to a future like [`crate::dataset::progress`]: wrap the run in [`observe`] and
//! the engine reports to the observer without any signature changing. Cost when unused:
//! one task-local lookup per action and per DeleteObjects batch.

use std::future::Future;
use std::sync::Arc;

/// Receives compensation events. Every method has an empty default; calls come from the
/// running task, so keep them cheap (update an atomic).
pub trait CompensationObserver: Send + Sync {
    /// The run will go through `actions` planned actions (some may be skipped).
    fn planned(&self, _actions: usize) {}
    /// Action `index` (0-based) of kind `kind` (`delete_prefix`, `stop_training_job`, ...)
    /// starts, or is skipped because the journal says it is done.
    fn action(&self, _index: usize, _kind: &str) {}
    /// A DeleteObjects batch removed `objects` objects (or versions).
    fn objects_deleted(&self, _objects: u64) {}
}

tokio::task_local! {
    static OBSERVER: Arc<dyn CompensationObserver>;
}

/// Run `work` with `observer` watching the compensation it runs.
pub async fn observe<F: Future>(observer: Arc<dyn CompensationObserver>, work: F) -> F::Output {
    OBSERVER.scope(observer, work).await
}

/// Tell the observer in scope, if any.
pub(crate) fn report(f: impl FnOnce(&dyn CompensationObserver)) {
    let _ = OBSERVER.try_with(|o| f(o.as_ref()));
}
