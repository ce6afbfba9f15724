//! CSV as the functions read it: content detection, the UTF-8 check (BOM, offsets of
//! bad sequences), header parsing with delimiter sniffing, quotes and escapes, and
//! arrow's push decoder, batch by batch.
//!
//! The first byte picks the dialect the way a contract's `csv` options would (sniffed
//! or fixed delimiter, quote, escape) and a small batch size, so batch boundaries fall
//! inside the input; the rest is the file.
//!
//! The reader sees a whole small file in one read, so the UTF-8 layer's handling of a
//! sequence cut between two reads is checked apart: the same bytes go through
//! `Utf8Checked` in reads of 1 to 8 bytes, and the verdict and the offset of the first
//! bad sequence must be what `std::str::from_utf8` says.
#![no_main]

use std::pin::Pin;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use trainguard::dataset::{CsvOptions, ReadOptions, Utf8Checked};
use trainguard_fuzz::{block_on, read_file, BoundedAlloc};

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc;

fuzz_target!(init: trainguard_fuzz::abort_on_own_panics(), |data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let delimiter = match pick & 0b111 {
        0..=3 => None,
        4 => Some(b','),
        5 => Some(b'\t'),
        6 => Some(b';'),
        _ => Some(b'|'),
    };
    let quote = if pick & 0b1000 == 0 { b'"' } else { b'\'' };
    let escape = (pick & 0b1_0000 != 0).then_some(b'\\');
    let batch_size = 1 + usize::from((pick >> 5) & 0b11);
    let columns = (pick & 0b1000_0000 != 0).then(|| vec!["a".to_string(), "id".to_string()]);
    let options = ReadOptions {
        batch_size,
        csv: CsvOptions {
            delimiter,
            quote,
            escape,
        },
        columns,
        strings_as_dictionary: false,
    };
    let _ = read_file(file, "input.csv", options, 64);
    utf8_in_pieces(file, 1 + usize::from(pick >> 5));
});

/// Hands out its bytes `piece` at a time.
struct Pieces<'a> {
    rest: &'a [u8],
    piece: usize,
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.piece.min(self.rest.len()).min(buf.remaining());
        buf.put_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Poll::Ready(Ok(()))
    }
}

fn utf8_in_pieces(bytes: &[u8], piece: usize) {
    let mut checked = Utf8Checked::new(Pieces { rest: bytes, piece });
    let mut out = Vec::new();
    let got = block_on(checked.read_to_end(&mut out));
    match (std::str::from_utf8(bytes), got) {
        (Ok(_), Ok(n)) => assert_eq!(n, bytes.len()),
        (Ok(_), Err(e)) => panic!("valid UTF-8 refused: {e}"),
        (Err(want), Ok(_)) => panic!("invalid UTF-8 accepted ({want})"),
        (Err(want), Err(e)) => {
            let msg = e.to_string();
            let expected = format!("invalid UTF-8 at byte offset {}", want.valid_up_to());
            assert_eq!(msg, expected);
            // The start of a sequence cut between reads is handed out before its end
            // shows whether it is valid (at most 3 bytes), never more.
            assert!(out.len() <= want.valid_up_to() + 3, "bad bytes handed out");
        }
    }
}
