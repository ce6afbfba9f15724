//! Parquet through parquet's async reader over ranged reads of S3 objects (or local
//! files): the footer first, then, row group by row group, only the column chunks of
//! the projected columns. Nothing else of the object is ever downloaded.

use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::basic::Encoding;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::detect::Format;
use super::{check_duplicates, BatchStream, DataError, ReadOptions, Source};

/// How many ranged GETs run at once for one row group's column chunks.
const CONCURRENT_RANGES: usize = 8;
/// First footer read: 64 KiB covers the metadata of most files in one request.
const FOOTER_PREFETCH: usize = 64 * 1024;

/// [`AsyncFileReader`] over [`Source::range`] (S3 ranged GET or a local file).
#[derive(Debug, Clone)]
pub struct RangeReader {
    source: Source,
    name: String,
    size: u64,
}

fn external(e: DataError) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for RangeReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let source = self.source.clone();
        let name = self.name.clone();
        async move {
            source
                .range(&name, range.start, range.end)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let source = self.source.clone();
        let name = self.name.clone();
        async move {
            futures::stream::iter(ranges)
                .map(|r| {
                    let source = source.clone();
                    let name = name.clone();
                    async move { source.range(&name, r.start, r.end).await.map_err(external) }
                })
                .buffered(CONCURRENT_RANGES)
                .try_collect()
                .await
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let size = self.size;
        async move {
            let md = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(md))
        }
        .boxed()
    }
}

/// Map a parquet error to a named data error (storage errors pass through unchanged).
fn parquet_error(e: ParquetError, object: &str) -> DataError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<DataError>() {
            Ok(d) => *d,
            Err(other) => DataError::CorruptParquet {
                object: object.to_string(),
                detail: other.to_string(),
            },
        },
        ParquetError::EOF(msg) => DataError::CorruptParquet {
            object: object.to_string(),
            detail: format!("unexpected end of data: {msg}"),
        },
        other => DataError::CorruptParquet {
            object: object.to_string(),
            detail: other.to_string(),
        },
    }
}

/// A panic inside the parquet crate while it decodes the footer or the pages: its
/// decoders still panic on some corrupt input (e.g. parquet 60.1 divides by zero on a
/// dictionary page that declares no values but holds bytes). That is a corrupt file, not
/// a crash of the function; the stream ends after it (nothing of the decoder's state is
/// used again).
fn decoder_panic(payload: Box<dyn std::any::Any + Send>, object: &str) -> DataError {
    let why = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    DataError::CorruptParquet {
        object: object.to_string(),
        detail: format!("the Parquet decoder failed on this file ({why})"),
    }
}

/// True when every data page of every row group's chunk of leaf column `leaf` is
/// dictionary encoded (the test the parquet crate documents for its encoding mask).
/// A chunk whose writer fell back to plain pages (high cardinality) is better read as
/// plain strings: the reader would otherwise rebuild a dictionary from them.
fn all_dictionary_encoded(meta: &ParquetMetaData, leaf: usize) -> bool {
    !meta.row_groups().is_empty()
        && meta.row_groups().iter().all(|rg| {
            let c = rg.column(leaf);
            c.dictionary_page_offset().is_some()
                && c.page_encoding_stats_mask().is_some_and(|m| {
                    m.is_only(Encoding::PLAIN_DICTIONARY) || m.is_only(Encoding::RLE_DICTIONARY)
                })
        })
}

/// The file's schema with each top-level text column whose chunks are all dictionary
/// encoded read as `Dictionary(Int32, Utf8)`.
fn dictionary_hint(schema: &Schema, meta: &ParquetMetaData) -> Schema {
    let descr = meta.file_metadata().schema_descr();
    let leaf_of = |name: &str| {
        descr.columns().iter().position(|c| {
            let parts = c.path().parts();
            parts.len() == 1 && parts[0] == name
        })
    };
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                if leaf_of(f.name()).is_some_and(|l| all_dictionary_encoded(meta, l)) =>
            {
                f.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// Every column chunk the footer describes must lie inside the file. The parquet crate
/// panics on a negative offset or length (`ColumnChunkMetaData::byte_range`), and a
/// length past the end would have the reader allocate and fetch whatever the footer
/// claims: both are a corrupt footer, reported before any chunk is read.
fn check_chunk_ranges(meta: &ParquetMetaData, size: u64, object: &str) -> Result<(), DataError> {
    for (r, rg) in meta.row_groups().iter().enumerate() {
        for (c, col) in rg.columns().iter().enumerate() {
            let start = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let len = col.compressed_size();
            let inside = u64::try_from(start)
                .ok()
                .zip(u64::try_from(len).ok())
                .and_then(|(s, l)| s.checked_add(l))
                .is_some_and(|end| end <= size);
            if !inside {
                return Err(DataError::CorruptParquet {
                    object: object.to_string(),
                    detail: format!(
                        "the footer puts column chunk {c} of row group {r} at offset {start}, length {len}: outside the {size}-byte file"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Open a Parquet object of `size` bytes.
pub(crate) async fn open(
    source: Source,
    object: String,
    size: u64,
    options: &ReadOptions,
) -> Result<BatchStream, DataError> {
    // 4-byte magic + 4-byte footer length + 4-byte magic is the smallest possible file.
    if size < 12 {
        return Err(DataError::TruncatedFile {
            object,
            detail: format!("{size} bytes: too small for a Parquet file (header magic, footer length and footer magic need 12)"),
        });
    }
    let tail = source.range(&object, size - 8, size).await?;
    if tail.len() != 8 || &tail[4..] != b"PAR1" {
        return Err(DataError::TruncatedFile {
            object,
            detail: format!(
                "starts with PAR1 but does not end with it (last bytes {}): the footer is missing, e.g. an interrupted upload",
                super::detect::show_bytes(&tail[tail.len().saturating_sub(4)..])
            ),
        });
    }
    let footer_len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
    if footer_len + 12 > size {
        return Err(DataError::TruncatedFile {
            object,
            detail: format!("the footer claims {footer_len} bytes but the file has only {size}"),
        });
    }
    let mut reader = RangeReader {
        source,
        name: object.clone(),
        size,
    };
    let loaded = AssertUnwindSafe(ArrowReaderMetadata::load_async(
        &mut reader,
        ArrowReaderOptions::new(),
    ))
    .catch_unwind()
    .await
    .map_err(|p| decoder_panic(p, &object))?;
    let mut meta = loaded.map_err(|e| parquet_error(e, &object))?;
    check_chunk_ranges(meta.metadata(), size, &object)?;
    if options.strings_as_dictionary {
        let hinted = dictionary_hint(meta.schema(), meta.metadata());
        if hinted != **meta.schema() {
            meta = ArrowReaderMetadata::try_new(
                meta.metadata().clone(),
                ArrowReaderOptions::new().with_schema(Arc::new(hinted)),
            )
            .map_err(|e| parquet_error(e, &object))?;
        }
    }
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, meta);
    let file_columns: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    check_duplicates(&object, &file_columns)?;
    let mut builder = builder.with_batch_size(options.batch_size.max(1));
    if let Some(cols) = &options.columns {
        let roots: Vec<usize> = file_columns
            .iter()
            .enumerate()
            .filter(|(_, n)| cols.contains(n))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    let stream = builder.build().map_err(|e| parquet_error(e, &object))?;
    let schema = stream.schema().clone();
    let name = object.clone();
    let inner = AssertUnwindSafe(stream)
        .catch_unwind()
        .map(move |r| match r {
            Ok(r) => r.map_err(|e| parquet_error(e, &name)),
            Err(p) => Err(decoder_panic(p, &name)),
        })
        .boxed();
    Ok(BatchStream {
        object,
        format: Format::Parquet,
        file_columns,
        schema,
        inner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;
    use arrow_array::RecordBatch;
    use arrow_array::{ArrayRef, Int64Array};
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::{ColumnChunkMetaDataBuilder, ParquetMetaDataWriter};

    /// A small valid file whose footer is rewritten with the first column chunk edited.
    fn with_first_chunk(
        edit: impl Fn(ColumnChunkMetaDataBuilder) -> ColumnChunkMetaDataBuilder,
    ) -> Vec<u8> {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        let batch = RecordBatch::try_from_iter([("id", ids)]).unwrap();
        let mut file = Vec::new();
        let mut w = ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let file = Bytes::from(file);
        let meta = ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .unwrap();
        let n = file.len();
        let footer_len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
        let rg = meta.row_group(0).clone();
        let col = edit(rg.column(0).clone().into_builder()).build().unwrap();
        let rg = rg
            .into_builder()
            .set_column_metadata(vec![col])
            .build()
            .unwrap();
        let meta = meta.into_builder().set_row_groups(vec![rg]).build();
        let mut out = file[..n - 8 - footer_len].to_vec();
        ParquetMetaDataWriter::new(&mut out, &meta)
            .finish()
            .unwrap();
        out
    }

    async fn read(bytes: &[u8], tag: &str) -> Result<usize, DataError> {
        let path = std::env::temp_dir().join(format!(
            "trainguard-parquet-io-{}-{tag}.parquet",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        let name = path.display().to_string();
        let opened = open(
            Source::Local(path.clone()),
            name,
            bytes.len() as u64,
            &ReadOptions::default(),
        )
        .await;
        let result = async {
            let mut s = opened?;
            let mut rows = 0;
            while let Some(b) = s.next_batch().await {
                rows += b?.num_rows();
            }
            Ok(rows)
        }
        .await;
        let _ = std::fs::remove_file(&path);
        result
    }

    #[tokio::test]
    async fn the_edited_footer_still_reads() {
        assert_eq!(
            read(&with_first_chunk(|c| c), "unchanged").await.unwrap(),
            3
        );
    }

    // Found by fuzz/parquet_read: the parquet crate asserts on a negative offset.
    #[tokio::test]
    async fn negative_chunk_offset_is_corrupt_not_a_panic() {
        let bytes = with_first_chunk(|c| {
            c.set_dictionary_page_offset(Some(-4))
                .set_data_page_offset(-4)
        });
        // This footer decodes, and what the reader does next with it is parquet's assert.
        let meta = ParquetMetaDataReader::new()
            .parse_and_finish(&Bytes::from(bytes.clone()))
            .unwrap();
        let chunk = meta.row_group(0).column(0);
        let asserts = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chunk.byte_range()));
        assert!(
            asserts.is_err(),
            "parquet no longer panics on a negative offset"
        );
        let e = read(&bytes, "negative").await.unwrap_err();
        assert_eq!(e.error_name(), "DataError.CorruptParquet", "{e}");
        assert!(e.to_string().contains("outside the"), "{e}");
    }

    // Found by fuzz/parquet_read: parquet 60.1 divides by zero decoding a dictionary page
    // that declares 0 values but holds bytes (the fuzzer's input, kept in the corpus).
    #[tokio::test]
    async fn a_panic_in_the_parquet_decoder_is_corrupt_parquet() {
        let bytes =
            include_bytes!("../../../fuzz/corpus/parquet_read/crash-empty-dictionary-page.parquet");
        let e = read(bytes, "empty-dictionary").await.unwrap_err();
        assert_eq!(e.error_name(), "DataError.CorruptParquet", "{e}");
        assert!(e.to_string().contains("decoder failed"), "{e}");
    }

    // A footer claiming a terabyte-long chunk: the reader would allocate all of it.
    #[tokio::test]
    async fn chunk_past_the_end_is_corrupt_not_a_huge_allocation() {
        let bytes = with_first_chunk(|c| c.set_total_compressed_size(1 << 40));
        let e = read(&bytes, "huge").await.unwrap_err();
        assert_eq!(e.error_name(), "DataError.CorruptParquet", "{e}");
    }
}
