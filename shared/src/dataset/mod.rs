//! Reading tabular data (CSV, gzip/zstd-compressed CSV, Parquet) from local files and
//! S3 as Arrow [`RecordBatch`]es, streaming, with bounded memory.
//!
//! One reader serves the schema validator and the drift detector, so both see the same
//! bytes the same way (same null handling, same encoding rules, same error names).
//!
//! # Quick start
//!
//! ```no_run
//! # async fn demo(s3: aws_sdk_s3::Client) -> Result<(), trainguard::dataset::DataError> {
//! use trainguard::dataset::{DataReader, ReadOptions};
//! use trainguard::aws::S3Store;
//! use trainguard::storage::Location;
//!
//! let reader = DataReader::new(Some(S3Store::new(s3)), ReadOptions::default());
//! let loc = Location::parse("s3://bucket/features/").map_err(trainguard::dataset::DataError::from)?;
//! let mut data = reader.open(&loc).await?; // every object under the prefix, one schema
//! while let Some(batch) = data.next_batch().await {
//!     let batch = batch?; // arrow RecordBatch; column names in batch.schema()
//!     let ages = trainguard::dataset::f64_values(batch.column(0), &Default::default());
//!     # let _ = ages;
//! }
//! # Ok(()) }
//! ```
//!
//! # What comes out
//!
//! - **Parquet** columns keep their Arrow types (Int64, Float64, Utf8, Date32, ...).
//! - **CSV** columns all come as nullable `Utf8` holding the raw field text: typing CSV
//!   is the caller's business (the validator must see `"abc"` in a numeric column to
//!   report it, which a typed reader would turn into an error or a null). An empty
//!   field is always null; other null tokens (`NA`, `NULL`, ...) are left as text for the
//!   caller to interpret with [`NullTokens`]. [`f64_values`] and [`string_values`] read
//!   any column of either format as numbers or text.
//! - A header-only CSV (or a Parquet file with zero rows) is a valid dataset of zero
//!   rows, not an error: the schema is known and the contract's row-count bound decides
//!   whether zero rows is acceptable. A file with no bytes (or only a BOM/whitespace) is
//!   [`DataError::EmptyFile`].
//!
//! # Formats and detection
//!
//! The format is decided by content, not by name: `PAR1` at the start means Parquet;
//! gzip (`1f 8b`) and zstd (`28 b5 2f fd`) magic bytes mean compressed CSV; a few other
//! well-known binary signatures (zip, bzip2, xz, ORC, Avro, Arrow IPC) are refused as
//! `DataError.UnsupportedFormat`; anything else is read as CSV. The file name only
//! sharpens the message: a `*.parquet` file without the `PAR1` magic is
//! `DataError.CorruptParquet` ("bad magic") rather than garbage CSV.
//!
//! CSV: the first record is the header (required). The delimiter is the configured one,
//! or sniffed from the header line among `,` `\t` `;` `|`. Quoting follows RFC 4180
//! (`"` by default, doubled to escape; an escape byte may be configured). A UTF-8 BOM
//! is skipped. The byte stream must be valid UTF-8: the first bad sequence is reported
//! with its byte offset in the (decompressed) stream, counting from the first byte
//! including any BOM.
//!
//! # Memory and I/O
//!
//! - CSV is decoded incrementally from the byte stream (S3 GetObject body or a local
//!   file), through the decompressor when there is one, one batch of rows at a time;
//!   peak memory is a few batches plus the I/O buffers, whatever the file size.
//! - Parquet from S3 is read with ranged GETs through parquet's async reader
//!   ([`parquet::arrow::async_reader::AsyncFileReader`] implemented over
//!   [`S3Store::get_range`]): the footer first, then for each row group only the
//!   column chunks of the projected columns. Peak memory is about one row group's
//!   projected column chunks plus one decoded batch.
//!
//! # Prefixes
//!
//! A location that is a prefix (`s3://b/k/` or a local directory) is a partitioned
//! dataset: every object under it, in key order, skipping names starting with `_` or
//! `.` (`_SUCCESS`, `.crc` markers) and zero-byte "folder" keys ending in `/`. All
//! objects must agree on the schema (the same column names; the same Arrow types where
//! both sides are typed, i.e. Parquet): otherwise `DataError.SchemaMismatch`.

mod csv_io;
mod detect;
mod parquet_io;
pub mod progress;
mod utf8;
mod values;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::aws::S3Store;
use crate::error::{CommonError, ErrorDoc, ErrorName};
use crate::storage::{Location, S3Uri};

pub use detect::{Compression, Format};
pub use utf8::Utf8Checked;
pub use values::{f64_values, string_values, NullTokens, DEFAULT_NULL_TOKENS};

/// Why data could not be read. A failed *check* is never a `DataError`: these are for
/// input that cannot be interpreted at all.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The object has no bytes (or only a BOM / whitespace).
    #[error("{0}: the file is empty (no header, no rows)")]
    EmptyFile(String),
    /// The file ends before its structure says it should (truncated upload or copy).
    #[error("{object}: truncated: {detail}")]
    TruncatedFile { object: String, detail: String },
    /// Parquet magic or metadata is wrong.
    #[error("{object}: corrupt Parquet: {detail}")]
    CorruptParquet { object: String, detail: String },
    /// The gzip/zstd stream is corrupt.
    #[error("{object}: corrupt {compression} stream: {detail}")]
    CorruptCompression {
        object: String,
        compression: String,
        detail: String,
    },
    /// The bytes are not valid UTF-8.
    #[error("{object}: invalid UTF-8 at byte offset {offset}{hint}")]
    InvalidEncoding {
        object: String,
        offset: u64,
        hint: String,
    },
    /// Two columns share a name.
    #[error(
        "{object}: duplicate column name {name:?} (columns {first} and {second}, counted from 1)"
    )]
    DuplicateColumn {
        object: String,
        name: String,
        first: usize,
        second: usize,
    },
    /// The CSV structure is broken (ragged rows, unreadable header).
    #[error("{object}: malformed CSV: {detail}")]
    MalformedCsv { object: String, detail: String },
    /// A binary format we do not read.
    #[error("{object}: unsupported format: {detail}")]
    UnsupportedFormat { object: String, detail: String },
    /// Objects of one dataset disagree on their schema.
    #[error("schema mismatch between {first} and {other}: {detail}")]
    SchemaMismatch {
        first: String,
        other: String,
        detail: String,
    },
    /// A prefix with no data objects under it.
    #[error("no data objects under {0}")]
    NoObjects(String),
    /// Storage, input and transient failures keep their common names.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl ErrorName for DataError {
    fn error_name(&self) -> &'static str {
        match self {
            DataError::EmptyFile(_) => "DataError.EmptyFile",
            DataError::TruncatedFile { .. } => "DataError.TruncatedFile",
            DataError::CorruptParquet { .. } => "DataError.CorruptParquet",
            DataError::CorruptCompression { .. } => "DataError.CorruptCompression",
            DataError::InvalidEncoding { .. } => "DataError.InvalidEncoding",
            DataError::DuplicateColumn { .. } => "DataError.DuplicateColumn",
            DataError::MalformedCsv { .. } => "DataError.MalformedCsv",
            DataError::UnsupportedFormat { .. } => "DataError.UnsupportedFormat",
            DataError::SchemaMismatch { .. } => "DataError.SchemaMismatch",
            DataError::NoObjects(_) => "DataError.NoObjects",
            DataError::Common(c) => c.error_name(),
        }
    }
}

/// Error names this module can raise (see [`crate::catalog`]). Storage and
/// transient failures surface under their common names (`StorageError.*`,
/// `Transient.*`).
pub const ERRORS: &[ErrorDoc] = &[
    ErrorDoc { name: "DataError.EmptyFile", retryable: false, meaning: "a data file has no bytes (or only a BOM/whitespace); a header-only CSV is NOT an error but zero rows" },
    ErrorDoc { name: "DataError.TruncatedFile", retryable: false, meaning: "a file ends early: Parquet without its trailing PAR1 footer magic, a cut gzip/zstd stream" },
    ErrorDoc { name: "DataError.CorruptParquet", retryable: false, meaning: "Parquet with a bad magic number or undecodable footer/pages; the message names the file and what failed" },
    ErrorDoc { name: "DataError.CorruptCompression", retryable: false, meaning: "a gzip or zstd stream that does not decode" },
    ErrorDoc { name: "DataError.InvalidEncoding", retryable: false, meaning: "CSV bytes that are not valid UTF-8; the message gives the byte offset of the first bad sequence" },
    ErrorDoc { name: "DataError.DuplicateColumn", retryable: false, meaning: "two columns of one file have the same name" },
    ErrorDoc { name: "DataError.MalformedCsv", retryable: false, meaning: "a CSV row with the wrong number of fields, or an unreadable header; the message gives the data row" },
    ErrorDoc { name: "DataError.UnsupportedFormat", retryable: false, meaning: "a binary format that is neither Parquet nor (compressed) CSV, e.g. zip, ORC, Avro" },
    ErrorDoc { name: "DataError.SchemaMismatch", retryable: false, meaning: "objects under one prefix disagree on column names or Parquet types" },
    ErrorDoc { name: "DataError.NoObjects", retryable: false, meaning: "a prefix holds no data objects" },
];

/// CSV dialect. `None` fields are sniffed or defaulted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvOptions {
    /// Field delimiter (one ASCII byte); `None` sniffs it from the header line among
    /// `,` `\t` `;` `|` (`,` when none occurs).
    #[serde(with = "opt_byte")]
    pub delimiter: Option<u8>,
    /// Quote character, default `"`.
    #[serde(with = "byte")]
    pub quote: u8,
    /// Escape character inside quotes; `None` means RFC 4180 doubled quotes.
    #[serde(with = "opt_byte")]
    pub escape: Option<u8>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            quote: b'"',
            escape: None,
        }
    }
}

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Rows per batch (default 8192).
    pub batch_size: usize,
    /// CSV dialect.
    pub csv: CsvOptions,
    /// Only these columns (by name) are decoded; `None` decodes all. For Parquet this
    /// also means only these column chunks are fetched. Names absent from a file are
    /// ignored (the caller sees them missing from [`BatchStream::schema`]).
    pub columns: Option<Vec<String>>,
    /// Parquet text columns come as dictionary arrays (`Dictionary(Int32, Utf8)`) rather
    /// than one string per row. Dictionary-encoded column chunks (what writers produce for
    /// low-cardinality text) are then read without materialising a string per row, so a
    /// caller can look at each distinct value once per batch. Off by default: only the
    /// schema validator handles dictionaries.
    pub strings_as_dictionary: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_size: 8192,
            csv: CsvOptions::default(),
            columns: None,
            strings_as_dictionary: false,
        }
    }
}

/// One data object: where it is and how big.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub location: Location,
    pub size: u64,
}

impl ObjectRef {
    /// Display name (`s3://…` or the path).
    pub fn name(&self) -> String {
        self.location.to_string()
    }
}

/// The batches of one object.
pub struct BatchStream {
    /// The object's display name.
    pub object: String,
    /// The detected format.
    pub format: Format,
    /// Every column name in the file, in file order (before projection).
    pub file_columns: Vec<String>,
    /// The schema of the batches this stream yields (after projection).
    pub schema: SchemaRef,
    inner: BoxStream<'static, Result<RecordBatch, DataError>>,
}

impl std::fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchStream")
            .field("object", &self.object)
            .field("format", &self.format)
            .field("file_columns", &self.file_columns)
            .finish()
    }
}

impl BatchStream {
    /// The next batch, `None` at the end.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch, DataError>> {
        self.inner.next().await
    }

    /// True when the columns come as raw text (CSV) rather than typed (Parquet).
    pub fn is_text(&self) -> bool {
        matches!(self.format, Format::Csv { .. })
    }
}

impl futures::Stream for BatchStream {
    type Item = Result<RecordBatch, DataError>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Opens locations: S3 (when a store is given) and local paths.
#[derive(Debug, Clone)]
pub struct DataReader {
    store: Option<S3Store>,
    options: ReadOptions,
}

impl DataReader {
    /// A reader; `store` may be `None` when only local paths are read (CLI).
    pub fn new(store: Option<S3Store>, options: ReadOptions) -> Self {
        DataReader { store, options }
    }

    /// The options in use.
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    fn store(&self, what: &S3Uri) -> Result<&S3Store, DataError> {
        self.store.as_ref().ok_or_else(|| {
            CommonError::InvalidInput(format!("{what}: no S3 client configured")).into()
        })
    }

    /// The data objects at a location: the object itself, or every object under a
    /// prefix / in a directory (see the module docs for what is skipped), in key order.
    ///
    /// An S3 URI without a trailing `/` is tried as an object first and, when no such
    /// object exists, as a prefix.
    pub async fn list(&self, loc: &Location) -> Result<Vec<ObjectRef>, DataError> {
        let objects = self.list_objects(loc).await?;
        if let Some(observer) = progress::current() {
            observer.listed(&objects);
        }
        Ok(objects)
    }

    async fn list_objects(&self, loc: &Location) -> Result<Vec<ObjectRef>, DataError> {
        match loc {
            Location::S3(uri) => {
                let store = self.store(uri)?;
                if !uri.is_prefix() {
                    match store.head(uri).await {
                        Ok(info) => {
                            return Ok(vec![ObjectRef {
                                location: Location::S3(uri.clone()),
                                size: info.size,
                            }])
                        }
                        Err(CommonError::NotFound(msg)) => {
                            let prefix = S3Uri::new(&uri.bucket, format!("{}/", uri.key));
                            let objs = self.list_prefix(store, &prefix).await?;
                            if objs.is_empty() {
                                return Err(CommonError::NotFound(msg).into());
                            }
                            return Ok(objs);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                let objs = self.list_prefix(store, uri).await?;
                if objs.is_empty() {
                    return Err(DataError::NoObjects(uri.to_string()));
                }
                Ok(objs)
            }
            Location::Local(path) => {
                let path = path.clone();
                let objs = tokio::task::spawn_blocking(move || list_local(&path))
                    .await
                    .map_err(|e| CommonError::Storage(format!("listing task failed: {e}")))??;
                if objs.is_empty() {
                    return Err(DataError::NoObjects(loc.to_string()));
                }
                Ok(objs)
            }
        }
    }

    async fn list_prefix(
        &self,
        store: &S3Store,
        prefix: &S3Uri,
    ) -> Result<Vec<ObjectRef>, DataError> {
        let mut objs: Vec<ObjectRef> = store
            .list(prefix)
            .await?
            .into_iter()
            .filter(|o| {
                !o.uri.key.ends_with('/')
                    && !is_hidden(o.uri.key.strip_prefix(&prefix.key).unwrap_or(&o.uri.key))
            })
            .map(|o| ObjectRef {
                location: Location::S3(o.uri),
                size: o.size,
            })
            .collect();
        objs.sort_by_cached_key(ObjectRef::name);
        Ok(objs)
    }

    /// Open one object as a stream of batches (format detected from its content).
    pub async fn open_object(&self, obj: &ObjectRef) -> Result<BatchStream, DataError> {
        let name = obj.name();
        if obj.size == 0 {
            return Err(DataError::EmptyFile(name));
        }
        let source = match &obj.location {
            Location::S3(uri) => Source::S3 {
                store: self.store(uri)?.clone(),
                uri: uri.clone(),
            },
            Location::Local(p) => Source::Local(p.clone()),
        };
        let head = source.range(&name, 0, obj.size.min(8)).await?;
        let format = detect::detect(&head, &name)?;
        let mut stream = match format {
            Format::Parquet => parquet_io::open(source, name, obj.size, &self.options).await,
            Format::Csv { compression, .. } => {
                csv_io::open(source, name, compression, &self.options).await
            }
        }?;
        if let Some(observer) = progress::current() {
            observer.object_opened(obj);
            let inner = std::mem::replace(&mut stream.inner, futures::stream::empty().boxed());
            stream.inner = inner
                .inspect(move |batch| {
                    if let Ok(b) = batch {
                        observer.rows_read(b.num_rows() as u64);
                    }
                })
                .boxed();
        }
        Ok(stream)
    }

    /// Open a location (object or prefix) as one stream of batches across its objects,
    /// checking that every object has the schema of the first one.
    pub async fn open(&self, loc: &Location) -> Result<DatasetStream, DataError> {
        let objects = self.list(loc).await?;
        DatasetStream::new(self.clone(), objects).await
    }
}

/// The batches of every object of a dataset, in order, with schema agreement checked
/// at each object boundary.
#[derive(Debug)]
pub struct DatasetStream {
    reader: DataReader,
    objects: Vec<ObjectRef>,
    next_object: usize,
    current: Option<BatchStream>,
    first: Option<(String, Signature)>,
}

impl DatasetStream {
    async fn new(reader: DataReader, objects: Vec<ObjectRef>) -> Result<Self, DataError> {
        let mut s = DatasetStream {
            reader,
            objects,
            next_object: 0,
            current: None,
            first: None,
        };
        s.advance().await?;
        Ok(s)
    }

    /// The objects of the dataset.
    pub fn objects(&self) -> &[ObjectRef] {
        &self.objects
    }

    /// The schema of the object being read (the first one before any batch is read).
    pub fn schema(&self) -> Option<SchemaRef> {
        self.current.as_ref().map(|c| c.schema.clone())
    }

    /// The object being read.
    pub fn current_object(&self) -> Option<&BatchStream> {
        self.current.as_ref()
    }

    async fn advance(&mut self) -> Result<bool, DataError> {
        let Some(obj) = self.objects.get(self.next_object) else {
            self.current = None;
            return Ok(false);
        };
        self.next_object += 1;
        let stream = self.reader.open_object(obj).await?;
        let sig = signature(&stream);
        match &self.first {
            None => self.first = Some((stream.object.clone(), sig)),
            Some((first_name, first_sig)) => {
                check_agreement(first_name, first_sig, &stream.object, &sig)?
            }
        }
        self.current = Some(stream);
        Ok(true)
    }

    /// The next batch of the dataset, `None` at the end.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch, DataError>> {
        loop {
            let cur = self.current.as_mut()?;
            match cur.next_batch().await {
                Some(r) => return Some(r),
                None => match self.advance().await {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => {
                        self.current = None;
                        return Some(Err(e));
                    }
                },
            }
        }
    }
}

/// Column names with their Arrow type (`None` for CSV text columns).
pub type Signature = Vec<(String, Option<DataType>)>;

/// A file's schema signature for agreement checks: column names with their Arrow type
/// when the format is typed (Parquet), `None` for CSV text columns.
pub fn signature(stream: &BatchStream) -> Vec<(String, Option<DataType>)> {
    stream
        .file_columns
        .iter()
        .map(|name| {
            let ty = if stream.is_text() {
                None
            } else {
                stream
                    .schema
                    .field_with_name(name)
                    .ok()
                    .map(|f| f.data_type().clone())
            };
            (name.clone(), ty)
        })
        .collect()
}

/// Check two signatures agree: same column names (in any order), same types where
/// both are typed.
pub fn check_agreement(
    first: &str,
    a: &[(String, Option<DataType>)],
    other: &str,
    b: &[(String, Option<DataType>)],
) -> Result<(), DataError> {
    let missing: Vec<&str> = a
        .iter()
        .filter(|(n, _)| !b.iter().any(|(m, _)| m == n))
        .map(|(n, _)| n.as_str())
        .collect();
    let extra: Vec<&str> = b
        .iter()
        .filter(|(n, _)| !a.iter().any(|(m, _)| m == n))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut detail = Vec::new();
    if !missing.is_empty() {
        detail.push(format!("columns {missing:?} missing from {other}"));
    }
    if !extra.is_empty() {
        detail.push(format!("columns {extra:?} only in {other}"));
    }
    for (n, ta) in a {
        if let Some((_, tb)) = b.iter().find(|(m, _)| m == n) {
            if let (Some(ta), Some(tb)) = (ta, tb) {
                if ta != tb {
                    detail.push(format!(
                        "column {n:?} is {ta} in {first} but {tb} in {other}"
                    ));
                }
            }
        }
    }
    if detail.is_empty() {
        Ok(())
    } else {
        Err(DataError::SchemaMismatch {
            first: first.to_string(),
            other: other.to_string(),
            detail: detail.join("; "),
        })
    }
}

/// Hadoop/Spark conventions: `_SUCCESS`, `_metadata`, `.crc` files are not data.
fn is_hidden(relative: &str) -> bool {
    relative
        .split('/')
        .any(|seg| seg.starts_with('_') || seg.starts_with('.'))
}

fn list_local(path: &std::path::Path) -> Result<Vec<ObjectRef>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| local_io_error(path, e))?;
    if meta.is_file() {
        return Ok(vec![ObjectRef {
            location: Location::Local(path.to_path_buf()),
            size: meta.len(),
        }]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| local_io_error(&dir, e))? {
            let entry = entry.map_err(|e| local_io_error(&dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            let p = entry.path();
            let m = entry.metadata().map_err(|e| local_io_error(&p, e))?;
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                out.push(ObjectRef {
                    location: Location::Local(p),
                    size: m.len(),
                });
            }
        }
    }
    out.sort_by_cached_key(ObjectRef::name);
    Ok(out)
}

fn local_io_error(path: &std::path::Path, e: std::io::Error) -> DataError {
    let what = format!("{}: {e}", path.display());
    match e.kind() {
        std::io::ErrorKind::NotFound => CommonError::NotFound(what).into(),
        std::io::ErrorKind::PermissionDenied => CommonError::AccessDenied(what).into(),
        _ => CommonError::Storage(what).into(),
    }
}

/// Where an object's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    S3 { store: S3Store, uri: S3Uri },
    Local(PathBuf),
}

impl Source {
    /// Bytes `[start, end)`.
    pub(crate) async fn range(
        &self,
        name: &str,
        start: u64,
        end: u64,
    ) -> Result<bytes::Bytes, DataError> {
        match self {
            Source::S3 { store, uri } => Ok(store.get_range(uri, start, end).await?),
            Source::Local(path) => {
                use tokio::io::{AsyncReadExt, AsyncSeekExt};
                let mut f = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| local_io_error(path, e))?;
                f.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| local_io_error(path, e))?;
                let mut buf = vec![0u8; (end - start) as usize];
                f.read_exact(&mut buf).await.map_err(|e| {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        DataError::TruncatedFile {
                            object: name.to_string(),
                            detail: format!("bytes {start}..{end} past end of file"),
                        }
                    } else {
                        local_io_error(path, e)
                    }
                })?;
                Ok(buf.into())
            }
        }
    }
}

/// Parse a location string (`s3://…` or a path) into a [`Location`], as a `DataError`.
pub fn parse_location(s: &str) -> Result<Location, DataError> {
    Ok(Location::parse(s)?)
}

/// An `Arc`'d schema of all-`Utf8` columns (what CSV yields).
pub(crate) fn text_schema(names: &[String]) -> SchemaRef {
    Arc::new(arrow_schema::Schema::new(
        names
            .iter()
            .map(|n| arrow_schema::Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// Duplicate column names are an error (columns are addressed by name everywhere).
pub(crate) fn check_duplicates(object: &str, names: &[String]) -> Result<(), DataError> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(first) = seen.insert(n.as_str(), i) {
            return Err(DataError::DuplicateColumn {
                object: object.to_string(),
                name: n.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }
    Ok(())
}

mod byte {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&(*b as char).to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let s = String::deserialize(d)?;
        super::one_byte(&s).map_err(serde::de::Error::custom)
    }
}

mod opt_byte {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_str(&(*b as char).to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| super::one_byte(&s))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// One ASCII byte from a string; `\t` and `tab` are accepted for the tab character.
fn one_byte(s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!("expected one ASCII character, got {s:?}")),
    }
}

#[cfg(test)]
mod tests;
