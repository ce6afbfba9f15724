//! What the fuzz targets share: an allocator that turns one oversized allocation into a
//! crash (without a sanitizer libFuzzer's `-malloc_limit_mb` sees nothing, and an
//! untouched `vec![0; huge]` never shows in RSS), one single-threaded runtime per
//! thread, and the reading of a byte string as a data file the way the functions read
//! their objects (`DataReader::open_object`, then every batch).

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::path::PathBuf;

use trainguard::dataset::{
    f64_values, string_values, DataError, DataReader, NullTokens, ObjectRef, ReadOptions,
};
use trainguard::storage::Location;

/// The largest single allocation a target may make. The inputs are at most a few
/// hundred KB (`-max_len`); anything near this size is an allocation sized by a number
/// read from the input, not by the input itself.
pub const MAX_ALLOC: usize = 256 << 20;

/// [`System`], aborting (a libFuzzer crash, with the stack printed) on any allocation
/// larger than [`MAX_ALLOC`].
pub struct BoundedAlloc;

#[cold]
fn too_big(size: usize) -> ! {
    eprintln!(
        "trainguard-fuzz: allocation of {size} bytes (limit {MAX_ALLOC}): an allocation sized by the input\n{}",
        std::backtrace::Backtrace::force_capture()
    );
    std::process::abort()
}

unsafe impl GlobalAlloc for BoundedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOC {
            too_big(layout.size())
        }
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOC {
            too_big(layout.size())
        }
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOC {
            too_big(new_size)
        }
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// libfuzzer-sys aborts on every panic, even one the library catches. The Parquet reader
/// turns a panic inside the parquet crate into `DataError.CorruptParquet` (its decoders
/// still panic on some corrupt input), so the data targets let panics raised in a
/// dependency's code unwind (a one-line note; one that nothing catches still ends in
/// libfuzzer-sys's abort, a crash), and keep aborting at once on any panic raised in
/// trainguard's own code.
pub fn abort_on_own_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match info.location() {
        Some(l) if l.file().contains("/.cargo/registry/") => {
            eprintln!("trainguard-fuzz: panic in a dependency at {l} (caught by the reader?)")
        }
        _ => abort(info),
    }));
}

/// Run a future on this thread's current-thread runtime (built once).
pub fn block_on<F: Future>(f: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
    }
    RT.with(|rt| rt.block_on(f))
}

/// A scratch file for this process (tmpfs when there is one), named `name` so that the
/// name-based refinements of format detection apply.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::var_os("TRAINGUARD_FUZZ_SCRATCH")
        .map(PathBuf::from)
        .or_else(|| {
            let shm = PathBuf::from("/dev/shm");
            shm.is_dir().then_some(shm)
        })
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("trainguard-fuzz-{}-{name}", std::process::id()))
}

/// What reading a data file came to: rows and columns read, or the error's name.
#[derive(Debug)]
pub enum ReadOutcome {
    Read { rows: usize, columns: usize },
    Failed(&'static str),
}

/// Write `bytes` to a scratch file called `name` and read it the way the functions
/// do: `DataReader::open_object` (format detected from the content), every batch, and
/// every column through the value readers the checks use. At most `max_batches` batches
/// are read (a small compressed input may stand for gigabytes of CSV; reading is
/// streaming, so the first batches already exercise every decoding step).
pub fn read_file(
    bytes: &[u8],
    name: &str,
    options: ReadOptions,
    max_batches: usize,
) -> ReadOutcome {
    let path = scratch(name);
    std::fs::write(&path, bytes).expect("write the scratch file");
    let obj = ObjectRef {
        location: Location::Local(path),
        size: bytes.len() as u64,
    };
    let reader = DataReader::new(None, options);
    let nulls = NullTokens::default();
    let result: Result<(usize, usize), DataError> = block_on(async {
        let mut stream = reader.open_object(&obj).await?;
        let columns = stream.schema.fields().len();
        let mut rows = 0;
        for _ in 0..max_batches {
            let Some(batch) = stream.next_batch().await else {
                break;
            };
            let batch = batch?;
            rows += batch.num_rows();
            for col in batch.columns() {
                let _ = f64_values(col, &nulls);
                let _ = string_values(col);
            }
        }
        Ok((rows, columns))
    });
    match result {
        Ok((rows, columns)) => ReadOutcome::Read { rows, columns },
        Err(e) => ReadOutcome::Failed(check_name(&e)),
    }
}

/// The error's name, which must be in the catalog (the README's table of names).
pub fn check_name<E: trainguard::ErrorName + std::fmt::Display>(e: &E) -> &'static str {
    let name = e.error_name();
    assert!(
        trainguard::catalog::lookup(name).is_some(),
        "undocumented error name {name}: {e}"
    );
    name
}
