//! Streaming access to large control files: one stanza in memory at a time.

use std::io::BufRead;

/// An error while reading stanzas from a stream.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("read failed")]
    Io(#[source] std::io::Error),
    #[error("line {line}: invalid UTF-8")]
    InvalidUtf8 { line: u32 },
}

/// Reads a stream stanza by stanza, keeping only the current one.
///
/// Each stanza comes back as text that [`super::Parser`] can parse; its first
/// line number in the stream is given so errors can be placed.
pub struct StanzaReader<R> {
    input: R,
    buf: String,
    line: Vec<u8>,
    line_no: u32,
}

impl<R: BufRead> StanzaReader<R> {
    pub fn new(input: R) -> Self {
        StanzaReader {
            input,
            buf: String::new(),
            line: Vec::new(),
            line_no: 0,
        }
    }

    /// The next stanza's text and the stream line it starts on, or `None` at
    /// the end. The text is valid until the next call.
    pub fn next_stanza(&mut self) -> Result<Option<(u32, &str)>, ReadError> {
        self.buf.clear();
        let mut first_line = 0;
        loop {
            self.line.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.line)
                .map_err(ReadError::Io)?;
            if n == 0 {
                break;
            }
            self.line_no += 1;
            let blank = self
                .line
                .iter()
                .all(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
            if blank {
                if self.buf.is_empty() {
                    continue;
                }
                break;
            }
            if self.buf.is_empty() {
                first_line = self.line_no;
            }
            let text = std::str::from_utf8(&self.line)
                .map_err(|_| ReadError::InvalidUtf8 { line: self.line_no })?;
            self.buf.push_str(text);
        }
        if self.buf.is_empty() {
            Ok(None)
        } else {
            Ok(Some((first_line, &self.buf)))
        }
    }
}
