//! gzip and zstd CSV as the functions read it: detection by magic bytes, streaming
//! decompression (multi-member gzip, multi-frame zstd), the UTF-8 check on the
//! decompressed stream, then the CSV reader. A corrupt or cut stream must end in
//! `DataError.CorruptCompression` / `DataError.TruncatedFile`.
//!
//! The first byte picks the codec and the magic bytes are put in front of the rest, so
//! the fuzzer spends its time inside the decoders rather than rediscovering the magic.
//! Reading stops after a few small batches: a few KB of zstd can stand for gigabytes
//! of CSV, and reading is streaming, so the first batches already run every step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainguard::dataset::ReadOptions;
use trainguard_fuzz::{read_file, BoundedAlloc};

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc;

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

fuzz_target!(init: trainguard_fuzz::abort_on_own_panics(), |data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (magic, name) = if pick & 1 == 0 {
        (GZIP, "input.csv.gz")
    } else {
        (ZSTD, "input.csv.zst")
    };
    let mut file = Vec::with_capacity(magic.len() + rest.len());
    file.extend_from_slice(magic);
    file.extend_from_slice(rest);
    let options = ReadOptions {
        batch_size: 64,
        ..ReadOptions::default()
    };
    let _ = read_file(&file, name, options, 8);
});
