//! UTF-8 validation as a stream layer, so every consumer downstream (header parsing,
//! the CSV decoder) sees only validated bytes and the first bad sequence is reported
//! with its exact byte offset, even when it straddles two reads.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The payload of the `io::Error` (kind `InvalidData`) raised at the first bad sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Byte offset of the first byte of the bad sequence from the start of the stream.
    pub offset: u64,
    /// The first bytes of the bad sequence (up to 4) for the message.
    pub bytes: [u8; 4],
    pub len: u8,
}

impl std::fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid UTF-8 at byte offset {}", self.offset)
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Incremental validator: feed chunks in order.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// Offset of the next byte to be fed.
    offset: u64,
    /// An incomplete sequence left at the end of the previous chunk.
    carry: [u8; 4],
    carry_len: usize,
    failed: Option<InvalidUtf8>,
}

fn seq_width(first: u8) -> usize {
    match first {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, offset: u64, bytes: &[u8]) -> InvalidUtf8 {
        let mut b = [0u8; 4];
        let n = bytes.len().min(4);
        b[..n].copy_from_slice(&bytes[..n]);
        let e = InvalidUtf8 {
            offset,
            bytes: b,
            len: n as u8,
        };
        self.failed = Some(e);
        e
    }

    /// Validate the next chunk.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), InvalidUtf8> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.carry_len > 0 {
            let width = seq_width(self.carry[0]);
            let take = (width - self.carry_len).min(chunk.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&chunk[..take]);
            self.carry_len += take;
            chunk = &chunk[take..];
            let carry_start = self.offset - (self.carry_len - take) as u64;
            self.offset += take as u64;
            if self.carry_len < width {
                // Still incomplete; is what we have so far a valid prefix?
                if let Err(e) = std::str::from_utf8(&self.carry[..self.carry_len]) {
                    if e.error_len().is_some() {
                        let bytes = self.carry;
                        return Err(self.fail(carry_start, &bytes[..self.carry_len]));
                    }
                }
                return Ok(());
            }
            if std::str::from_utf8(&self.carry[..width]).is_err() {
                let bytes = self.carry;
                return Err(self.fail(carry_start, &bytes[..width]));
            }
            self.carry_len = 0;
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => {
                self.offset += chunk.len() as u64;
                Ok(())
            }
            Err(e) => {
                let at = e.valid_up_to();
                match e.error_len() {
                    Some(len) => Err(self.fail(self.offset + at as u64, &chunk[at..at + len])),
                    None => {
                        let rest = &chunk[at..];
                        self.carry[..rest.len()].copy_from_slice(rest);
                        self.carry_len = rest.len();
                        self.offset += chunk.len() as u64;
                        Ok(())
                    }
                }
            }
        }
    }

    /// End of stream: an incomplete trailing sequence is an error.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.carry_len > 0 {
            let start = self.offset - self.carry_len as u64;
            let bytes = self.carry;
            return Err(self.fail(start, &bytes[..self.carry_len]));
        }
        Ok(())
    }
}

/// An [`AsyncRead`] that validates UTF-8 as bytes pass through and fails with an
/// `InvalidData` error carrying [`InvalidUtf8`] at the first bad sequence.
#[derive(Debug)]
pub struct Utf8Checked<R> {
    inner: R,
    validator: Utf8Validator,
}

impl<R> Utf8Checked<R> {
    pub fn new(inner: R) -> Self {
        Utf8Checked {
            inner,
            validator: Utf8Validator::new(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Utf8Checked<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let new = &buf.filled()[before..];
        let res = if new.is_empty() {
            this.validator.finish()
        } else {
            this.validator.feed(new)
        };
        if res.is_err() {
            // A reader that fails must not hand out bytes.
            buf.set_filled(before);
        }
        Poll::Ready(res.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)))
    }
}

/// The [`InvalidUtf8`] inside an I/O error, if that is what it is.
pub(crate) fn as_invalid_utf8(e: &io::Error) -> Option<InvalidUtf8> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<InvalidUtf8>())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_bad(data: &[u8], chunk: usize) -> Option<u64> {
        let mut v = Utf8Validator::new();
        for c in data.chunks(chunk.max(1)) {
            if let Err(e) = v.feed(c) {
                return Some(e.offset);
            }
        }
        v.finish().err().map(|e| e.offset)
    }

    #[test]
    fn offsets_match_std_for_every_chunking() {
        let mut cases: Vec<Vec<u8>> = vec![
            "héllo wörld ✓ 𝄞 end".as_bytes().to_vec(),
            b"abc\xffdef".to_vec(),
            b"ab\xc3".to_vec(),       // truncated 2-byte sequence at the end
            b"ab\xe2\x82zz".to_vec(), // broken 3-byte sequence
            b"\xef\xbb\xbfa,b\n1,\xc3\x28".to_vec(), // BOM then bad continuation
            "日本語".as_bytes().to_vec(),
            b"x\xf0\x9f\x98".to_vec(), // truncated 4-byte at the end
            b"\xed\xa0\x80".to_vec(),  // surrogate (invalid in UTF-8)
        ];
        let mut long = "é".repeat(100).into_bytes();
        long.push(0x80);
        cases.push(long);
        for data in &cases {
            let expected = std::str::from_utf8(data)
                .err()
                .map(|e| e.valid_up_to() as u64);
            for chunk in 1..=data.len() {
                assert_eq!(first_bad(data, chunk), expected, "{data:?} chunk {chunk}");
            }
        }
    }

    #[tokio::test]
    async fn reader_reports_offset_as_io_error() {
        use tokio::io::AsyncReadExt;
        let data = b"a,b\n1,2\n\xff".to_vec();
        let mut r = Utf8Checked::new(&data[..]);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(as_invalid_utf8(&err).unwrap().offset, 8);
    }
}
