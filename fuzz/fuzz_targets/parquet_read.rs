//! Arbitrary bytes read as a Parquet file through the functions' reader: size and
//! magic checks, the footer (thrift metadata) through parquet's async reader over
//! ranged reads, then every row group's pages, decoded to Arrow batches. Whatever the
//! bytes, the outcome is batches or a documented `DataError` (`CorruptParquet`,
//! `TruncatedFile`, ...): never a panic, a hang or an allocation sized by a number
//! in the file (see `BoundedAlloc`).
//!
//! Each input is read twice: plain, and as the schema validator reads it (text
//! columns as dictionaries where every page is dictionary encoded, a projection, small
//! batches).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainguard::dataset::ReadOptions;
use trainguard_fuzz::{read_file, BoundedAlloc};

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc;

fuzz_target!(init: trainguard_fuzz::abort_on_own_panics(), |data: &[u8]| {
    let _ = read_file(data, "input.parquet", ReadOptions::default(), 16);
    let validator = ReadOptions {
        batch_size: 3,
        strings_as_dictionary: true,
        columns: Some(vec!["id".into(), "name".into(), "category".into()]),
        ..ReadOptions::default()
    };
    let _ = read_file(data, "input.parquet", validator, 16);
});
