//! Streaming CSV: byte stream → (decompress) → UTF-8 check → header → Arrow batches.
//!
//! Nothing holds more than the I/O buffers and one batch of rows: the S3 body (or file)
//! is pulled as the decoder asks for bytes, and arrow-csv's push decoder turns them
//! into batches of all-`Utf8` columns.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use arrow_array::RecordBatch;
use futures::StreamExt;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};

use super::detect::{Compression, Format};
use super::utf8::{as_invalid_utf8, Utf8Checked};
use super::{
    check_duplicates, text_schema, BatchStream, CsvOptions, DataError, ReadOptions, Source,
};
use crate::error::CommonError;

/// I/O buffer size: large enough that per-read overhead vanishes, small against the
/// memory budget.
const IO_BUF: usize = 1 << 20;
/// A header line longer than this is not a header.
const MAX_HEADER: usize = 4 << 20;

type DynBufRead = Pin<Box<dyn AsyncBufRead + Send>>;

/// Marks errors that come from the byte source (network, disk) so they are not
/// mistaken for decompression errors further up.
#[derive(Debug)]
struct SourceError(io::Error);
impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading the object: {}", self.0)
    }
}
impl std::error::Error for SourceError {}

struct MarkSource<R>(R);

impl<R: AsyncBufRead + Unpin> AsyncRead for MarkSource<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0)
            .poll_read(cx, buf)
            .map_err(|e| io::Error::other(SourceError(e)))
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for MarkSource<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().0)
            .poll_fill_buf(cx)
            .map_err(|e| io::Error::other(SourceError(e)))
    }
    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.0).consume(amt)
    }
}

/// Open the raw byte stream of an object.
async fn raw_stream(source: &Source, name: &str) -> Result<DynBufRead, DataError> {
    match source {
        Source::S3 { store, uri } => {
            let (body, _len) = store.get_stream(uri).await?;
            Ok(Box::pin(MarkSource(BufReader::with_capacity(
                IO_BUF,
                body.into_async_read(),
            ))))
        }
        Source::Local(path) => {
            let f = tokio::fs::File::open(path)
                .await
                .map_err(|e| super::local_io_error(path, e))?;
            let _ = name;
            Ok(Box::pin(MarkSource(BufReader::with_capacity(IO_BUF, f))))
        }
    }
}

/// Map an I/O error met while reading the (decompressed, checked) stream.
fn io_to_data(e: io::Error, object: &str, compression: Compression) -> DataError {
    if let Some(bad) = as_invalid_utf8(&e) {
        let bytes = &bad.bytes[..bad.len as usize];
        let hint = if bad.offset == 0 && matches!(bytes.first(), Some(0xff | 0xfe)) {
            " (a UTF-16 byte-order mark: re-export the file as UTF-8)".to_string()
        } else {
            format!(
                " ({}; expected UTF-8, e.g. not Latin-1/Windows-1252)",
                super::detect::show_bytes(bytes)
            )
        };
        return DataError::InvalidEncoding {
            object: object.to_string(),
            offset: bad.offset,
            hint,
        };
    }
    if let Some(src) = e.get_ref().and_then(|i| i.downcast_ref::<SourceError>()) {
        return DataError::Common(CommonError::Transient(format!("{object}: {src}")));
    }
    match (compression, e.kind()) {
        (Compression::None, _) => {
            DataError::Common(CommonError::Transient(format!("{object}: reading: {e}")))
        }
        (_, io::ErrorKind::UnexpectedEof) => DataError::TruncatedFile {
            object: object.to_string(),
            detail: format!("the {compression} stream ends before its end marker ({e})"),
        },
        _ => DataError::CorruptCompression {
            object: object.to_string(),
            compression: compression.to_string(),
            detail: e.to_string(),
        },
    }
}

/// Open a CSV object as a batch stream.
pub(crate) async fn open(
    source: Source,
    object: String,
    compression: Compression,
    options: &ReadOptions,
) -> Result<BatchStream, DataError> {
    let raw = raw_stream(&source, &object).await?;
    from_reader(raw, object, compression, options).await
}

/// Build the CSV stream over any buffered byte source (used by [`open`] and by tests).
pub(crate) async fn from_reader(
    raw: DynBufRead,
    object: String,
    compression: Compression,
    options: &ReadOptions,
) -> Result<BatchStream, DataError> {
    let decompressed: Pin<Box<dyn AsyncRead + Send>> = match compression {
        Compression::None => Box::pin(raw),
        Compression::Gzip => {
            let mut d = async_compression::tokio::bufread::GzipDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Zstd => {
            let mut d = async_compression::tokio::bufread::ZstdDecoder::new(raw);
            d.multiple_members(true);
            Box::pin(d)
        }
    };
    let mut reader = BufReader::with_capacity(IO_BUF, Utf8Checked::new(decompressed));

    // Read until the header record is complete.
    let mut pending: Vec<u8> = Vec::new();
    let mut eof = false;
    let header = loop {
        if let Some(h) = try_header(&pending, eof, &options.csv, &object)? {
            break h;
        }
        if eof {
            return Err(DataError::EmptyFile(object));
        }
        if pending.len() > MAX_HEADER {
            return Err(DataError::MalformedCsv {
                object,
                detail: format!(
                    "no complete header record in the first {} MiB",
                    MAX_HEADER >> 20
                ),
            });
        }
        let buf = reader
            .fill_buf()
            .await
            .map_err(|e| io_to_data(e, &object, compression))?;
        if buf.is_empty() {
            eof = true;
        } else {
            pending.extend_from_slice(buf);
            let n = buf.len();
            reader.consume(n);
        }
    };
    check_duplicates(&object, &header.names)?;

    let schema = text_schema(&header.names);
    let mut builder = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_header(false)
        .with_delimiter(header.delimiter)
        .with_quote(options.csv.quote)
        .with_batch_size(options.batch_size.max(1));
    if let Some(e) = options.csv.escape {
        builder = builder.with_escape(e);
    }
    let projection: Option<Vec<usize>> = options.columns.as_ref().map(|cols| {
        header
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| cols.contains(n))
            .map(|(i, _)| i)
            .collect()
    });
    let out_schema = match &projection {
        Some(p) => std::sync::Arc::new(schema.project(p).map_err(|e| DataError::MalformedCsv {
            object: object.clone(),
            detail: e.to_string(),
        })?),
        None => schema.clone(),
    };
    if let Some(p) = projection {
        builder = builder.with_projection(p);
    }
    let decoder = builder.build_decoder();

    let rest = pending.split_off(header.end);
    let body: DynBufRead = Box::pin(std::io::Cursor::new(rest).chain(reader));
    let state = DecodeState {
        reader: body,
        decoder,
        object: object.clone(),
        compression,
        done: false,
    };
    let inner = futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        match st.next().await {
            Ok(Some(b)) => Some((Ok(b), st)),
            Ok(None) => None,
            Err(e) => {
                st.done = true;
                Some((Err(e), st))
            }
        }
    })
    .boxed();
    Ok(BatchStream {
        object,
        format: Format::Csv {
            compression,
            delimiter: header.delimiter,
        },
        file_columns: header.names,
        schema: out_schema,
        inner,
    })
}

struct DecodeState {
    reader: DynBufRead,
    decoder: arrow_csv::reader::Decoder,
    object: String,
    compression: Compression,
    done: bool,
}

impl DecodeState {
    async fn next(&mut self) -> Result<Option<RecordBatch>, DataError> {
        loop {
            let buf = self
                .reader
                .fill_buf()
                .await
                .map_err(|e| io_to_data(e, &self.object, self.compression))?;
            let eof = buf.is_empty();
            let decoded = self
                .decoder
                .decode(buf)
                .map_err(|e| csv_error(e, &self.object))?;
            self.reader.as_mut().consume(decoded);
            if decoded == 0 || self.decoder.capacity() == 0 {
                let batch = self
                    .decoder
                    .flush()
                    .map_err(|e| csv_error(e, &self.object))?;
                match batch {
                    Some(b) => return Ok(Some(b)),
                    None if eof => return Ok(None),
                    None => continue,
                }
            }
        }
    }
}

fn csv_error(e: arrow_schema::ArrowError, object: &str) -> DataError {
    let msg = e.to_string();
    let msg = msg
        .strip_prefix("Csv error: ")
        .unwrap_or(&msg)
        .replace("for line", "at data row");
    DataError::MalformedCsv {
        object: object.to_string(),
        detail: format!("{msg} (data rows counted from 1 after the header)"),
    }
}

#[derive(Debug)]
struct Header {
    names: Vec<String>,
    delimiter: u8,
    /// Offset in `pending` where the data rows start.
    end: usize,
}

const BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// Parse the header record from the bytes read so far, if they hold a complete one.
fn try_header(
    pending: &[u8],
    eof: bool,
    opts: &CsvOptions,
    object: &str,
) -> Result<Option<Header>, DataError> {
    let start = if pending.starts_with(BOM) {
        BOM.len()
    } else {
        0
    };
    let data = &pending[start..];
    // Skip leading blank lines.
    let lead = data
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        .count();
    if lead == data.len() {
        return Ok(None); // nothing yet (or only whitespace: empty once eof)
    }
    if data[lead..].iter().take(4096).any(|b| *b == 0) {
        return Err(DataError::UnsupportedFormat {
            object: object.to_string(),
            detail: "NUL bytes in the first line: binary data, not CSV".into(),
        });
    }
    let first_line_end = data[lead..].iter().position(|b| *b == b'\n');
    if first_line_end.is_none() && !eof {
        return Ok(None);
    }
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(
            &data[lead..lead + first_line_end.unwrap_or(data.len() - lead)],
            opts.quote,
        ),
    };
    let mut b = csv::ReaderBuilder::new();
    b.has_headers(false)
        .delimiter(delimiter)
        .quote(opts.quote)
        .flexible(true);
    if let Some(e) = opts.escape {
        b.escape(Some(e)).double_quote(false);
    }
    let mut rdr = b.from_reader(data);
    let mut rec = csv::ByteRecord::new();
    let got = rdr
        .read_byte_record(&mut rec)
        .map_err(|e| DataError::MalformedCsv {
            object: object.to_string(),
            detail: format!("header: {e}"),
        })?;
    if !got {
        return Ok(None);
    }
    let pos = rdr.position().byte() as usize;
    if pos >= data.len() && !eof {
        return Ok(None); // the record may continue in bytes not read yet
    }
    if let Err(e) = std::str::from_utf8(&data[..pos]) {
        return Err(DataError::InvalidEncoding {
            object: object.to_string(),
            offset: (start + e.valid_up_to()) as u64,
            hint: " in the header".into(),
        });
    }
    let names: Vec<String> = rec
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    Ok(Some(Header {
        names,
        delimiter,
        end: start + pos,
    }))
}

/// The most frequent candidate delimiter outside quotes in the header line.
fn sniff_delimiter(line: &[u8], quote: u8) -> u8 {
    let candidates = [b',', b'\t', b';', b'|'];
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for &b in line {
        if b == quote {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if let Some(i) = candidates.iter().position(|c| *c == b) {
                counts[i] += 1;
            }
        }
    }
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
        .unwrap_or((0, &0));
    if *n == 0 {
        b','
    } else {
        candidates[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;
    use arrow_array::cast::AsArray;

    async fn read_all(
        bytes: Vec<u8>,
        compression: Compression,
        opts: ReadOptions,
    ) -> Result<(Vec<String>, Vec<Vec<Option<String>>>, u8), DataError> {
        let raw: DynBufRead = Box::pin(BufReader::new(std::io::Cursor::new(bytes)));
        let mut s = from_reader(raw, "mem.csv".into(), compression, &opts).await?;
        let mut rows = Vec::new();
        while let Some(b) = s.next_batch().await {
            let b = b?;
            for r in 0..b.num_rows() {
                rows.push(
                    (0..b.num_columns())
                        .map(|c| {
                            let a = b.column(c).as_string::<i32>();
                            arrow_array::Array::is_valid(a, r).then(|| a.value(r).to_string())
                        })
                        .collect(),
                );
            }
        }
        let delim = match s.format {
            Format::Csv { delimiter, .. } => delimiter,
            _ => 0,
        };
        Ok((s.file_columns.clone(), rows, delim))
    }

    fn small_batches() -> ReadOptions {
        ReadOptions {
            batch_size: 2,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn reads_header_quotes_bom_and_trailing_record() {
        let data = b"\xef\xbb\xbfid,name,note\n1,\"Smith, J\",\"say \"\"hi\"\"\"\n2,Ann,\n3,\"multi\nline\",x".to_vec();
        let (cols, rows, d) = read_all(data, Compression::None, small_batches())
            .await
            .unwrap();
        assert_eq!(cols, ["id", "name", "note"]);
        assert_eq!(d, b',');
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][1].as_deref(), Some("Smith, J"));
        assert_eq!(rows[0][2].as_deref(), Some("say \"hi\""));
        assert_eq!(rows[1][2], None, "empty field is null");
        assert_eq!(rows[2][1].as_deref(), Some("multi\nline"));
        assert_eq!(rows[2][2].as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn sniffs_delimiters_and_handles_crlf() {
        let (_, rows, d) = read_all(
            b"a;b\r\n1;2\r\n3;4\r\n".to_vec(),
            Compression::None,
            small_batches(),
        )
        .await
        .unwrap();
        assert_eq!(d, b';');
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("2".into())],
                vec![Some("3".into()), Some("4".into())]
            ]
        );
        let (_, _, d) = read_all(b"a\tb\n1\t2\n".to_vec(), Compression::None, small_batches())
            .await
            .unwrap();
        assert_eq!(d, b'\t');
    }

    #[tokio::test]
    async fn gzip_and_zstd_round_trip() {
        use std::io::Write;
        let plain = b"x,y\n1,2\n3,4\n".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let (_, rows, _) = read_all(gz.clone(), Compression::Gzip, small_batches())
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        let zs = zstd::encode_all(&plain[..], 3).unwrap();
        let (_, rows, _) = read_all(zs, Compression::Zstd, small_batches())
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        // A cut gzip stream is truncated, not garbage.
        let cut = gz[..gz.len() - 6].to_vec();
        let e = read_all(cut, Compression::Gzip, small_batches())
            .await
            .unwrap_err();
        assert_eq!(e.error_name(), "DataError.TruncatedFile", "{e}");
    }

    #[tokio::test]
    async fn header_only_is_zero_rows_and_empty_is_error() {
        let (cols, rows, _) = read_all(b"a,b,c\n".to_vec(), Compression::None, small_batches())
            .await
            .unwrap();
        assert_eq!(cols.len(), 3);
        assert!(rows.is_empty());
        let (cols, rows, _) = read_all(b"a,b,c".to_vec(), Compression::None, small_batches())
            .await
            .unwrap();
        assert_eq!((cols.len(), rows.len()), (3, 0));
        for empty in [&b""[..], b"\xef\xbb\xbf", b"\n\n  \n"] {
            let e = read_all(empty.to_vec(), Compression::None, small_batches())
                .await
                .unwrap_err();
            assert_eq!(e.error_name(), "DataError.EmptyFile");
        }
    }

    #[tokio::test]
    async fn errors_are_named_with_positions() {
        let e = read_all(
            b"a,b,a\n1,2,3\n".to_vec(),
            Compression::None,
            small_batches(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.error_name(), "DataError.DuplicateColumn");
        assert!(e.to_string().contains("columns 1 and 3"), "{e}");

        let e = read_all(
            b"a,b\n1,2\n3\n".to_vec(),
            Compression::None,
            small_batches(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.error_name(), "DataError.MalformedCsv");
        assert!(e.to_string().contains("row 2"), "{e}");

        let mut bad = b"a,b\n1,caf".to_vec();
        bad.push(0xe9); // Latin-1 é
        bad.extend_from_slice(b"\n2,x\n");
        let e = read_all(bad, Compression::None, small_batches())
            .await
            .unwrap_err();
        assert_eq!(e.error_name(), "DataError.InvalidEncoding");
        assert!(e.to_string().contains("offset 9"), "{e}");

        let e = read_all(
            b"\xff\xfea\x00,\x00b\x00".to_vec(),
            Compression::None,
            small_batches(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.error_name(), "DataError.InvalidEncoding");
        assert!(e.to_string().contains("UTF-16"), "{e}");
    }

    #[tokio::test]
    async fn projection_keeps_only_named_columns() {
        let opts = ReadOptions {
            columns: Some(vec!["c".into(), "a".into()]),
            ..small_batches()
        };
        let (cols, rows, _) = read_all(b"a,b,c\n1,2,3\n".to_vec(), Compression::None, opts)
            .await
            .unwrap();
        assert_eq!(cols, ["a", "b", "c"], "file columns are all columns");
        assert_eq!(rows, vec![vec![Some("1".into()), Some("3".into())]]);
    }

    #[test]
    fn sniff_ignores_quoted_delimiters() {
        assert_eq!(sniff_delimiter(b"\"a,b,c\";d;e", b'"'), b';');
        assert_eq!(sniff_delimiter(b"single", b'"'), b',');
    }
}
