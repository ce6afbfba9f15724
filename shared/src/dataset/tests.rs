//! Reader tests on local files (the S3 paths are exercised against moto in
//! `tests/tests/schema_validator.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;
use crate::ErrorName;

/// A fresh directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    let n: u64 = rand::random();
    let d = std::env::temp_dir().join(format!("tg-dataset-{tag}-{n:016x}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn parquet_bytes(rows: usize, row_group: usize) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Float64, true),
        Field::new("label", DataType::Utf8, true),
    ]));
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows as i64));
    let scores: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..rows).map(|i| (i % 7 != 0).then_some(i as f64 / 2.0)),
    ));
    let labels: ArrayRef = Arc::new(StringArray::from_iter(
        (0..rows).map(|i| Some(if i % 2 == 0 { "a" } else { "b" })),
    ));
    let batch = RecordBatch::try_new(schema.clone(), vec![ids, scores, labels]).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn local(p: &std::path::Path) -> Location {
    Location::Local(p.to_path_buf())
}

async fn count_rows(reader: &DataReader, loc: &Location) -> Result<usize, DataError> {
    let mut s = reader.open(loc).await?;
    let mut n = 0;
    while let Some(b) = s.next_batch().await {
        n += b?.num_rows();
    }
    Ok(n)
}

#[tokio::test]
async fn parquet_local_with_projection_and_row_groups() {
    let dir = temp_dir("pq");
    let path = dir.join("data.bin"); // no extension: detection is by content
    std::fs::write(&path, parquet_bytes(1000, 300)).unwrap();
    let opts = ReadOptions {
        batch_size: 128,
        columns: Some(vec!["score".into()]),
        ..Default::default()
    };
    let reader = DataReader::new(None, opts);
    let objs = reader.list(&local(&path)).await.unwrap();
    let mut s = reader.open_object(&objs[0]).await.unwrap();
    assert_eq!(s.format, Format::Parquet);
    assert_eq!(s.file_columns, ["id", "score", "label"]);
    assert_eq!(s.schema.fields().len(), 1);
    let mut rows = 0;
    let mut nulls = 0;
    while let Some(b) = s.next_batch().await {
        let b = b.unwrap();
        assert!(b.num_rows() <= 128);
        rows += b.num_rows();
        nulls += f64_values(b.column(0), &NullTokens::default())
            .iter()
            .filter(|v| v.is_none())
            .count();
    }
    assert_eq!(rows, 1000);
    assert_eq!(nulls, (0..1000).filter(|i| i % 7 == 0).count());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn corrupt_parquet_files_get_their_names() {
    let dir = temp_dir("pqbad");
    let good = parquet_bytes(50, 50);
    let reader = DataReader::new(None, ReadOptions::default());

    let cut = dir.join("cut.parquet");
    std::fs::write(&cut, &good[..good.len() - 5]).unwrap();
    let e = count_rows(&reader, &local(&cut)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.TruncatedFile", "{e}");

    let magic = dir.join("magic.parquet");
    let mut m = good.clone();
    m[..4].copy_from_slice(b"PAR2");
    std::fs::write(&magic, &m).unwrap();
    let e = count_rows(&reader, &local(&magic)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.CorruptParquet", "{e}");
    assert!(e.to_string().contains("bad magic"), "{e}");

    // Footer bytes garbled, magic intact.
    let garbled = dir.join("garbled.parquet");
    let mut g = good.clone();
    let n = g.len();
    let footer_len = u32::from_le_bytes([g[n - 8], g[n - 7], g[n - 6], g[n - 5]]) as usize;
    for b in &mut g[n - 8 - footer_len..n - 8] {
        *b = 0xff;
    }
    std::fs::write(&garbled, &g).unwrap();
    let e = count_rows(&reader, &local(&garbled)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.CorruptParquet", "{e}");

    let tiny = dir.join("tiny.parquet");
    std::fs::write(&tiny, b"PAR1PAR1").unwrap();
    let e = count_rows(&reader, &local(&tiny)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.TruncatedFile", "{e}");

    let empty = dir.join("empty.csv");
    std::fs::write(&empty, b"").unwrap();
    let e = count_rows(&reader, &local(&empty)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.EmptyFile", "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn directory_is_a_partitioned_dataset() {
    let dir = temp_dir("dir");
    std::fs::write(dir.join("part-0.csv"), "a,b\n1,2\n3,4\n").unwrap();
    std::fs::write(dir.join("part-1.csv"), "b,a\n5,6\n").unwrap(); // same names, other order
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    std::fs::write(dir.join(".part-0.csv.crc"), "xx").unwrap();
    let reader = DataReader::new(None, ReadOptions::default());
    assert_eq!(reader.list(&local(&dir)).await.unwrap().len(), 2);
    assert_eq!(count_rows(&reader, &local(&dir)).await.unwrap(), 3);

    std::fs::write(dir.join("part-2.csv"), "a,c\n7,8\n").unwrap();
    let e = count_rows(&reader, &local(&dir)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.SchemaMismatch", "{e}");
    assert!(e.to_string().contains("\"b\""), "{e}");

    let none = temp_dir("none");
    std::fs::write(none.join("_SUCCESS"), "").unwrap();
    let e = count_rows(&reader, &local(&none)).await.unwrap_err();
    assert_eq!(e.error_name(), "DataError.NoObjects");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(none);
}

#[test]
fn parquet_type_disagreement_is_a_mismatch() {
    let a = vec![("x".to_string(), Some(DataType::Int64))];
    let b = vec![("x".to_string(), Some(DataType::Utf8))];
    let c = vec![("x".to_string(), None)];
    assert_eq!(
        check_agreement("a", &a, "b", &b).unwrap_err().error_name(),
        "DataError.SchemaMismatch"
    );
    assert!(
        check_agreement("a", &a, "c", &c).is_ok(),
        "text vs typed: names decide"
    );
}

#[test]
fn every_variant_is_documented() {
    let o = String::new;
    let samples = [
        DataError::EmptyFile(o()),
        DataError::TruncatedFile {
            object: o(),
            detail: o(),
        },
        DataError::CorruptParquet {
            object: o(),
            detail: o(),
        },
        DataError::CorruptCompression {
            object: o(),
            compression: o(),
            detail: o(),
        },
        DataError::InvalidEncoding {
            object: o(),
            offset: 0,
            hint: o(),
        },
        DataError::DuplicateColumn {
            object: o(),
            name: o(),
            first: 1,
            second: 2,
        },
        DataError::MalformedCsv {
            object: o(),
            detail: o(),
        },
        DataError::UnsupportedFormat {
            object: o(),
            detail: o(),
        },
        DataError::SchemaMismatch {
            first: o(),
            other: o(),
            detail: o(),
        },
        DataError::NoObjects(o()),
    ];
    for e in samples {
        assert!(
            ERRORS.iter().any(|d| d.name == e.error_name()),
            "{}",
            e.error_name()
        );
    }
}

#[test]
fn csv_options_from_json() {
    let o: CsvOptions = serde_json::from_str(r#"{"delimiter": "\t", "quote": "'"}"#).unwrap();
    assert_eq!((o.delimiter, o.quote, o.escape), (Some(b'\t'), b'\'', None));
    let o: CsvOptions = serde_json::from_str(r#"{"delimiter": "tab"}"#).unwrap();
    assert_eq!(o.delimiter, Some(b'\t'));
    assert!(serde_json::from_str::<CsvOptions>(r#"{"delimiter": ",,"}"#).is_err());
}
