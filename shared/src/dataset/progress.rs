//! An optional hook that watches what a [`DataReader`](super::DataReader) reads, for
//! progress displays (the CLI's progress line on long validations and profiles).
//!
//! The hook is scoped to a future, the way `tracing::dispatcher::with_default` scopes a
//! subscriber: wrap the work in [`observe`] and every read started inside it (by the
//! schema validator, the profiler, anything built on the reader) reports to the
//! observer, without any signature in between changing.
//!
//! ```no_run
//! # async fn demo(reader: trainguard::dataset::DataReader, loc: trainguard::storage::Location) {
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use trainguard::dataset::progress::{observe, ReadObserver};
//!
//! #[derive(Default)]
//! struct Rows(AtomicU64);
//! impl ReadObserver for Rows {
//!     fn rows_read(&self, rows: u64) {
//!         self.0.fetch_add(rows, Ordering::Relaxed);
//!     }
//! }
//! let rows = Arc::new(Rows::default());
//! let mut data = observe(rows.clone(), reader.open(&loc)).await.unwrap();
//! // The stream remembers its observer: batches read later (even on another task) count.
//! while let Some(batch) = data.next_batch().await { let _ = batch; }
//! println!("{} rows", rows.0.load(Ordering::Relaxed));
//! # }
//! ```
//!
//! What is reported: the objects a listing found ([`ReadObserver::listed`], so a display
//! knows the total bytes), each object as it is opened ([`ReadObserver::object_opened`]),
//! and the rows of every batch it yields ([`ReadObserver::rows_read`]). An object is
//! bound to the observer in scope when it is opened, so the rows of a stream moved to a
//! spawned task (the validator decodes on its own task) still count.
//!
//! Cost when unused: one task-local lookup per listing and per object opened; batches
//! pass through untouched.

use std::future::Future;
use std::sync::Arc;

use super::ObjectRef;

/// Receives read events. Every method has an empty default; implement what you show.
/// Calls come from whichever task reads, so keep them cheap (update an atomic).
pub trait ReadObserver: Send + Sync {
    /// A location was listed: these objects will be read, in this order.
    fn listed(&self, _objects: &[ObjectRef]) {}
    /// An object was opened for reading.
    fn object_opened(&self, _object: &ObjectRef) {}
    /// A batch of `rows` rows was decoded.
    fn rows_read(&self, _rows: u64) {}
}

tokio::task_local! {
    static OBSERVER: Arc<dyn ReadObserver>;
}

/// Run `work` with `observer` watching every read it starts.
pub async fn observe<F: Future>(observer: Arc<dyn ReadObserver>, work: F) -> F::Output {
    OBSERVER.scope(observer, work).await
}

/// The observer in scope, if any.
pub(crate) fn current() -> Option<Arc<dyn ReadObserver>> {
    OBSERVER.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::dataset::{DataReader, ReadOptions};
    use crate::storage::Location;

    #[derive(Default)]
    struct Counts {
        listed_bytes: AtomicU64,
        opened: Mutex<Vec<String>>,
        rows: AtomicU64,
    }

    impl ReadObserver for Counts {
        fn listed(&self, objects: &[ObjectRef]) {
            let bytes = objects.iter().map(|o| o.size).sum();
            self.listed_bytes.store(bytes, Ordering::Relaxed);
        }
        fn object_opened(&self, object: &ObjectRef) {
            self.opened.lock().unwrap().push(object.name());
        }
        fn rows_read(&self, rows: u64) {
            self.rows.fetch_add(rows, Ordering::Relaxed);
        }
    }

    /// Two CSV files of 5 and 7 data rows in a fresh directory.
    fn two_files() -> (std::path::PathBuf, u64) {
        let n: u64 = rand::random();
        let dir = std::env::temp_dir().join(format!("tg-progress-{n:016x}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = 0;
        for (name, rows) in [("a.csv", 5), ("b.csv", 7)] {
            let mut text = String::from("x,y\n");
            for i in 0..rows {
                text.push_str(&format!("{i},v{i}\n"));
            }
            bytes += text.len() as u64;
            std::fs::write(dir.join(name), text).unwrap();
        }
        (dir, bytes)
    }

    fn small_batches() -> ReadOptions {
        ReadOptions {
            batch_size: 2,
            ..ReadOptions::default()
        }
    }

    #[tokio::test]
    async fn observer_sees_listing_objects_and_every_row() {
        let (dir, bytes) = two_files();
        let reader = DataReader::new(None, small_batches());
        let counts = Arc::new(Counts::default());
        let loc = Location::Local(dir.clone());
        let rows = observe(counts.clone(), async {
            let mut data = reader.open(&loc).await.unwrap();
            let mut rows = 0;
            while let Some(b) = data.next_batch().await {
                rows += b.unwrap().num_rows() as u64;
            }
            rows
        })
        .await;
        assert_eq!(rows, 12);
        assert_eq!(counts.rows.load(Ordering::Relaxed), 12);
        assert_eq!(counts.listed_bytes.load(Ordering::Relaxed), bytes);
        let opened = counts.opened.lock().unwrap().clone();
        assert_eq!(opened.len(), 2);
        assert!(opened[0].ends_with("a.csv") && opened[1].ends_with("b.csv"));
    }

    #[tokio::test]
    async fn a_stream_opened_in_scope_reports_from_another_task() {
        let (dir, _) = two_files();
        let reader = DataReader::new(None, small_batches());
        let counts = Arc::new(Counts::default());
        let obj = reader
            .list(&Location::Local(dir.join("b.csv")))
            .await
            .unwrap()
            .remove(0);
        let mut stream = observe(counts.clone(), reader.open_object(&obj))
            .await
            .unwrap();
        tokio::spawn(async move { while stream.next_batch().await.is_some() {} })
            .await
            .unwrap();
        assert_eq!(counts.rows.load(Ordering::Relaxed), 7);
    }

    #[tokio::test]
    async fn reads_outside_a_scope_report_nothing() {
        let (dir, _) = two_files();
        let reader = DataReader::new(None, small_batches());
        let counts = Arc::new(Counts::default());
        let loc = Location::Local(dir);
        // Opened outside the scope: polling it inside one does not bind it.
        let mut data = reader.open(&loc).await.unwrap();
        observe(counts.clone(), async {
            while data.next_batch().await.is_some() {}
        })
        .await;
        // Only the second object, opened while the scope was active, reports.
        assert_eq!(counts.rows.load(Ordering::Relaxed), 7);
        assert_eq!(counts.listed_bytes.load(Ordering::Relaxed), 0);
    }
}
