//! Splitting an OpenPGP clear-signed document (RFC 4880 §7), as InRelease
//! files are, into the signed text and the armored signature.
//!
//! The split is strict, like apt's: nothing but blank lines may come before
//! the `BEGIN PGP SIGNED MESSAGE` line or after the signature, the armor
//! header block must end with an empty line, and text lines starting with a
//! dash must be dash-escaped (`- `). Verifying the signature is the archive
//! layer's job.

use std::borrow::Cow;

const BEGIN_MESSAGE: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// What is wrong with a clear-signed document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClearSignError {
    #[error("not a clear-signed message: no '{BEGIN_MESSAGE}' line")]
    NotClearSigned,
    #[error("line {0}: text before the signed message")]
    TextBeforeMessage(u32),
    #[error("line {0}: armor header block not ended by an empty line")]
    BadArmorHeader(u32),
    #[error("line {0}: text line starting with '-' is not dash-escaped")]
    NotDashEscaped(u32),
    #[error("no signature block after the signed text")]
    MissingSignature,
    #[error("signature block not terminated by '{END_SIGNATURE}'")]
    UnterminatedSignature,
    #[error("line {0}: text after the signature")]
    TextAfterSignature(u32),
}

/// The parts of a clear-signed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearSigned<'a> {
    /// Armor headers such as `Hash: SHA512`.
    pub headers: Vec<&'a str>,
    /// The signed text with dash-escaping undone; every line, the last one
    /// included, ends with `\n`. (What the signature covers is this text
    /// without its final line break, see [`ClearSigned::signed_data`].)
    pub text: Cow<'a, str>,
    /// The armored signature block, from its BEGIN line to its END line.
    pub signature: &'a str,
}

impl ClearSigned<'_> {
    /// The bytes the signature is computed over (RFC 4880 §7.1): lines with
    /// trailing spaces and tabs removed, joined by CR LF, no final line break.
    pub fn signed_data(&self) -> Vec<u8> {
        let body = self.text.strip_suffix('\n').unwrap_or(&self.text);
        let mut out = Vec::with_capacity(body.len() + body.len() / 32);
        for (i, line) in body.split('\n').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(line.trim_end_matches([' ', '\t', '\r']).as_bytes());
        }
        out
    }
}

/// Split `doc` into armor headers, signed text and signature.
pub fn split(doc: &str) -> Result<ClearSigned<'_>, ClearSignError> {
    let mut lines = Lines::new(doc);
    // Leading blank lines only.
    loop {
        let Some((no, line)) = lines.next() else {
            return Err(ClearSignError::NotClearSigned);
        };
        if line.trim_end() == BEGIN_MESSAGE {
            break;
        }
        if !line.trim().is_empty() {
            return Err(if doc.contains(BEGIN_MESSAGE) {
                ClearSignError::TextBeforeMessage(no)
            } else {
                ClearSignError::NotClearSigned
            });
        }
    }
    let mut headers = Vec::new();
    loop {
        let Some((no, line)) = lines.next() else {
            return Err(ClearSignError::MissingSignature);
        };
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if !line.contains(": ") {
            return Err(ClearSignError::BadArmorHeader(no));
        }
        headers.push(line);
    }
    let text_start = lines.offset();
    let mut escaped = false;
    let text_end;
    loop {
        let Some((no, line)) = lines.next() else {
            return Err(ClearSignError::MissingSignature);
        };
        if line.starts_with('-') {
            if line.trim_end() == BEGIN_SIGNATURE {
                text_end = lines.last_start();
                break;
            }
            if !line.starts_with("- ") {
                return Err(ClearSignError::NotDashEscaped(no));
            }
            escaped = true;
        }
    }
    let sig_start = text_end;
    let sig_end;
    loop {
        let Some((_, line)) = lines.next() else {
            return Err(ClearSignError::UnterminatedSignature);
        };
        if line.trim_end() == END_SIGNATURE {
            sig_end = lines.last_start() + line.len();
            break;
        }
    }
    for (no, line) in lines.by_ref() {
        if !line.trim().is_empty() {
            return Err(ClearSignError::TextAfterSignature(no));
        }
    }
    let raw = &doc[text_start..text_end];
    // The line break before the signature belongs to the armor, but callers
    // want whole lines: keep it.
    let text = if escaped {
        let mut out = String::with_capacity(raw.len());
        for line in raw.split_inclusive('\n') {
            out.push_str(line.strip_prefix("- ").unwrap_or(line));
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(raw)
    };
    Ok(ClearSigned {
        headers,
        text,
        signature: &doc[sig_start..sig_end],
    })
}

/// Lines with their 1-based numbers and start offsets.
struct Lines<'a> {
    doc: &'a str,
    pos: usize,
    last: usize,
    no: u32,
}

impl<'a> Lines<'a> {
    fn new(doc: &'a str) -> Self {
        Lines {
            doc,
            pos: 0,
            last: 0,
            no: 0,
        }
    }
    fn offset(&self) -> usize {
        self.pos
    }
    fn last_start(&self) -> usize {
        self.last
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (u32, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.doc.len() {
            return None;
        }
        let rest = &self.doc[self.pos..];
        let end = rest.find('\n').unwrap_or(rest.len());
        self.last = self.pos;
        self.pos += (end + 1).min(rest.len());
        self.no += 1;
        Some((self.no, &rest[..end]))
    }
}
