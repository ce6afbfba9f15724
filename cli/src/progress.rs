//! The progress line on stderr for long work: reads (validate, infer-contract, baseline,
//! drift: rows read, objects and bytes, elapsed time and rate, fed by the library's read
//! hook [`trainguard::dataset::progress`]) and compensation (`compensate`: the action
//! under way and the objects deleted, fed by [`trainguard::saga::progress`]).
//!
//! Drawn from its own thread so a busy runtime does not freeze it; on a terminal it is
//! redrawn in place at most 10 times a second and erased at the end, so the command's own
//! output starts on a clean line.

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trainguard::dataset::progress::{observe, ReadObserver};
use trainguard::dataset::ObjectRef;
use trainguard::saga::progress::CompensationObserver;

use crate::output::ProgressStyle;

/// Redraw interval on a terminal (at most 10 updates a second).
pub const TERMINAL_INTERVAL: Duration = Duration::from_millis(100);
/// Line interval when forced onto a pipe or file.
pub const LINES_INTERVAL: Duration = Duration::from_secs(1);

/// What has been read so far (updated by the reading tasks, read by the drawing thread).
#[derive(Debug, Default)]
pub struct Counters {
    objects_total: AtomicU64,
    bytes_total: AtomicU64,
    objects_opened: AtomicU64,
    rows: AtomicU64,
    actions_total: AtomicU64,
    /// 1-based number of the action under way (0: none yet).
    action: AtomicU64,
    objects_deleted: AtomicU64,
}

impl CompensationObserver for Counters {
    fn planned(&self, actions: usize) {
        self.actions_total.store(actions as u64, Ordering::Relaxed);
    }
    fn action(&self, index: usize, _kind: &str) {
        self.action.store(index as u64 + 1, Ordering::Relaxed);
    }
    fn objects_deleted(&self, objects: u64) {
        self.objects_deleted.fetch_add(objects, Ordering::Relaxed);
    }
}

impl ReadObserver for Counters {
    fn listed(&self, objects: &[ObjectRef]) {
        self.objects_total
            .fetch_add(objects.len() as u64, Ordering::Relaxed);
        self.bytes_total
            .fetch_add(objects.iter().map(|o| o.size).sum(), Ordering::Relaxed);
    }
    fn object_opened(&self, _object: &ObjectRef) {
        self.objects_opened.fetch_add(1, Ordering::Relaxed);
    }
    fn rows_read(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }
}

impl Counters {
    /// The progress line, e.g. `validating: 2,000 rows, object 1/2 of 1.0 MB, 2 s (1,000 rows/s)`.
    pub fn line(&self, verb: &str, elapsed: Duration) -> String {
        let actions = self.actions_total.load(Ordering::Relaxed);
        if actions > 0 {
            return format!(
                "{verb}: action {}/{actions}, {} objects deleted, {} s",
                self.action.load(Ordering::Relaxed).min(actions),
                thousands(self.objects_deleted.load(Ordering::Relaxed)),
                elapsed.as_secs()
            );
        }
        let rows = self.rows.load(Ordering::Relaxed);
        let total = self.objects_total.load(Ordering::Relaxed);
        let opened = self.objects_opened.load(Ordering::Relaxed);
        let bytes = self.bytes_total.load(Ordering::Relaxed);
        let mut s = format!("{verb}: {} rows", thousands(rows));
        if total > 1 {
            s.push_str(&format!(", object {}/{total}", opened.min(total)));
        }
        if bytes > 0 {
            s.push_str(&format!(" of {}", human_bytes(bytes)));
        }
        s.push_str(&format!(", {} s", elapsed.as_secs()));
        let secs = elapsed.as_secs_f64();
        if secs >= 1.0 {
            s.push_str(&format!(
                " ({} rows/s)",
                thousands((rows as f64 / secs) as u64)
            ));
        }
        s
    }
}

/// A running progress display; [`Progress::finish`] (or drop) stops and erases it.
pub struct Progress {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    drawer: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start drawing `verb`'s progress in `style`, or nothing when `style` is `None`.
    pub fn start(verb: &'static str, style: Option<ProgressStyle>) -> Option<Progress> {
        let style = style?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let drawer = {
            let (counters, stop) = (counters.clone(), stop.clone());
            std::thread::spawn(move || draw(verb, style, &counters, &stop))
        };
        Some(Progress {
            counters,
            stop,
            drawer: Some(drawer),
        })
    }

    /// Stop drawing: on a terminal the line is erased; as lines, a last one is printed.
    pub fn finish(mut self) {
        self.stop_drawer();
    }

    fn stop_drawer(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.drawer.take() {
            d.thread().unpark();
            let _ = d.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_drawer();
    }
}

/// Run `work` with `progress` (if any) watching its reads, and stop the display after.
pub async fn watch<F: Future>(progress: Option<Progress>, work: F) -> F::Output {
    match progress {
        None => work.await,
        Some(p) => {
            let out = observe(p.counters.clone(), work).await;
            p.finish();
            out
        }
    }
}

/// Run a compensation with `progress` (if any) watching it, and stop the display after.
pub async fn watch_compensation<F: Future>(progress: Option<Progress>, work: F) -> F::Output {
    match progress {
        None => work.await,
        Some(p) => {
            let out = trainguard::saga::progress::observe(p.counters.clone(), work).await;
            p.finish();
            out
        }
    }
}

fn draw(verb: &str, style: ProgressStyle, counters: &Counters, stop: &AtomicBool) {
    let started = Instant::now();
    let interval = match style {
        ProgressStyle::Terminal => TERMINAL_INTERVAL,
        ProgressStyle::Lines => LINES_INTERVAL,
    };
    let mut last = String::new();
    let mut stderr = std::io::stderr();
    loop {
        // Woken early by `finish`; a spurious wake-up only redraws sooner.
        std::thread::park_timeout(interval);
        let stopping = stop.load(Ordering::Relaxed);
        let line = counters.line(verb, started.elapsed());
        match style {
            ProgressStyle::Terminal if stopping && !last.is_empty() => {
                let _ = write!(stderr, "\r\x1b[2K");
            }
            ProgressStyle::Terminal if stopping => {}
            ProgressStyle::Terminal if line != last => {
                let _ = write!(stderr, "\r\x1b[2K{line}");
                last = line;
            }
            ProgressStyle::Lines if stopping || started.elapsed() >= interval => {
                let _ = writeln!(stderr, "{line}");
            }
            _ => {}
        }
        let _ = stderr.flush();
        if stopping {
            return;
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in decimal units, as the README's benchmarks give them (`1.0 GB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainguard::storage::Location;

    fn obj(size: u64) -> ObjectRef {
        ObjectRef {
            location: Location::Local("x.csv".into()),
            size,
        }
    }

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_015_000_000), "1.0 GB");
        assert_eq!(human_bytes(346_000_000), "346.0 MB");
    }

    #[test]
    fn the_compensation_line_says_the_action_and_the_objects_deleted() {
        let c = Counters::default();
        c.planned(5);
        c.action(0, "stop_training_job");
        c.action(3, "delete_s3_prefix");
        c.objects_deleted(1000);
        c.objects_deleted(234);
        assert_eq!(
            c.line("compensating", Duration::from_secs(3)),
            "compensating: action 4/5, 1,234 objects deleted, 3 s"
        );
    }

    #[test]
    fn the_line_counts_rows_objects_bytes_and_rate() {
        let c = Counters::default();
        c.listed(&[obj(600_000), obj(400_000)]);
        c.object_opened(&obj(600_000));
        c.rows_read(1500);
        c.rows_read(500);
        assert_eq!(
            c.line("validating", Duration::from_secs(2)),
            "validating: 2,000 rows, object 1/2 of 1.0 MB, 2 s (1,000 rows/s)"
        );
        let one = Counters::default();
        one.listed(&[obj(10)]);
        one.object_opened(&obj(10));
        assert_eq!(
            one.line("profiling", Duration::from_millis(300)),
            "profiling: 0 rows of 10 B, 0 s"
        );
    }

    #[test]
    fn nothing_starts_without_a_style() {
        assert!(Progress::start("validating", None).is_none());
    }
}
