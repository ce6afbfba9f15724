//! Format detection from the first bytes of an object (content first, name second).

use super::DataError;

/// Compression wrapped around a CSV stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// A detected file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum Format {
    /// CSV; `delimiter` is filled in once the header has been read (0 before).
    Csv {
        compression: Compression,
        delimiter: u8,
    },
    /// Apache Parquet.
    Parquet,
}

const PAR1: &[u8] = b"PAR1";
const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Signatures of binary formats we recognise but do not read.
const REFUSED: &[(&[u8], &str)] = &[
    (b"PK\x03\x04", "zip archive"),
    (b"BZh", "bzip2 stream"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz stream"),
    (b"ORC", "ORC file"),
    (b"Obj\x01", "Avro object container"),
    (b"ARROW1", "Arrow IPC file"),
    (&[0x89, b'P', b'N', b'G'], "PNG image"),
    (&[0x04, 0x22, 0x4d, 0x18], "lz4 frame"),
];

/// Decide the format from the first (up to 8) bytes; `name` only refines errors.
pub fn detect(head: &[u8], name: &str) -> Result<Format, DataError> {
    if head.is_empty() {
        return Err(DataError::EmptyFile(name.to_string()));
    }
    if head.starts_with(PAR1) {
        return Ok(Format::Parquet);
    }
    if head.starts_with(GZIP) {
        return Ok(Format::Csv {
            compression: Compression::Gzip,
            delimiter: 0,
        });
    }
    if head.starts_with(ZSTD) {
        return Ok(Format::Csv {
            compression: Compression::Zstd,
            delimiter: 0,
        });
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".parquet") || lower.ends_with(".pq") || lower.ends_with(".parq") {
        return Err(DataError::CorruptParquet {
            object: name.to_string(),
            detail: format!(
                "bad magic: expected \"PAR1\" at byte 0, found {}",
                show_bytes(&head[..head.len().min(4)])
            ),
        });
    }
    for (sig, what) in REFUSED {
        if head.starts_with(sig) {
            return Err(DataError::UnsupportedFormat {
                object: name.to_string(),
                detail: format!(
                    "{what} (magic {}); trainguard reads CSV (plain, gzip, zstd) and Parquet",
                    show_bytes(sig)
                ),
            });
        }
    }
    Ok(Format::Csv {
        compression: Compression::None,
        delimiter: 0,
    })
}

/// Bytes for a message: printable ASCII as text, the rest as hex.
pub(crate) fn show_bytes(b: &[u8]) -> String {
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        format!("{:?}", String::from_utf8_lossy(b))
    } else {
        let hex: Vec<String> = b.iter().map(|c| format!("{c:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;

    #[test]
    fn detects_by_content_not_name() {
        assert_eq!(
            detect(b"PAR1\x15\x04", "data.csv").unwrap(),
            Format::Parquet
        );
        assert_eq!(
            detect(&[0x1f, 0x8b, 8, 0], "data.parquet").unwrap(),
            Format::Csv {
                compression: Compression::Gzip,
                delimiter: 0
            }
        );
        assert_eq!(
            detect(&[0x28, 0xb5, 0x2f, 0xfd, 0], "x").unwrap(),
            Format::Csv {
                compression: Compression::Zstd,
                delimiter: 0
            }
        );
        assert_eq!(
            detect(b"a,b\n1,2", "x.bin").unwrap(),
            Format::Csv {
                compression: Compression::None,
                delimiter: 0
            }
        );
    }

    #[test]
    fn parquet_name_with_bad_magic_is_corrupt_parquet() {
        let e = detect(b"NOPE1234", "part-0.parquet").unwrap_err();
        assert_eq!(e.error_name(), "DataError.CorruptParquet");
        assert!(e.to_string().contains("bad magic"), "{e}");
        assert!(e.to_string().contains("NOPE"), "{e}");
    }

    #[test]
    fn refuses_known_binaries_and_empty() {
        assert_eq!(
            detect(b"PK\x03\x04abcd", "a.csv").unwrap_err().error_name(),
            "DataError.UnsupportedFormat"
        );
        assert_eq!(
            detect(b"", "a.csv").unwrap_err().error_name(),
            "DataError.EmptyFile"
        );
    }
}
