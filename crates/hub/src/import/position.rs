//! Where a reader is in its file, as a person counts: line and column (from 1), for the
//! problems an import reports.

use std::io::{self, BufRead, Read};

/// A buffered reader that counts the lines it has handed out.
#[derive(Debug)]
pub struct Counted<R> {
    inner: R,
    at: Place,
}

/// How far a reader got.
#[derive(Debug, Clone, Copy)]
struct Place {
    /// Bytes consumed so far.
    offset: u64,
    /// Lines begun so far (the first is 1).
    line: u64,
    /// Offset of the current line's first byte.
    line_start: u64,
}

impl Place {
    fn count(&mut self, bytes: &[u8]) {
        let mut from = 0;
        while let Some(i) = bytes[from..].iter().position(|b| *b == b'\n') {
            self.line += 1;
            self.line_start = self.offset + (from + i) as u64 + 1;
            from += i + 1;
        }
        self.offset += bytes.len() as u64;
    }
}

impl<R> Counted<R> {
    /// Counts what `inner` hands out from now on.
    pub fn new(inner: R) -> Counted<R> {
        Counted {
            inner,
            at: Place {
                offset: 0,
                line: 1,
                line_start: 0,
            },
        }
    }

    /// The line and column of the next byte to be read.
    pub fn position(&self) -> (u64, u64) {
        (self.at.line, self.at.offset - self.at.line_start + 1)
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at.count(&buf[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            self.at.count(&buf[..amt.min(buf.len())]);
        }
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_from_one() {
        let mut r = Counted::new(io::Cursor::new("ab\ncd\n\nef".as_bytes()));
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(r.position(), (2, 1));
        line.clear();
        r.read_line(&mut line).unwrap();
        r.read_line(&mut line).unwrap();
        assert_eq!(r.position(), (4, 1));
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!((rest.as_str(), r.position()), ("ef", (4, 3)));
    }
}
