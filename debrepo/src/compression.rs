//! Streaming decompression, chosen by file name or by magic bytes.
//!
//! Archives publish indices as `.xz`, `.gz`, `.zst`, `.bz2`, `.lz4` or
//! uncompressed; .deb members add `.lzma` (the legacy LZMA-alone format).

use std::io::{self, Read};

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    Lz4,
    Lzma,
}

impl Compression {
    /// Every format, cheapest to decode first (the order to prefer when an
    /// archive offers several).
    pub const BY_DECODE_COST: [Compression; 7] = [
        Compression::None,
        Compression::Lz4,
        Compression::Zstd,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Lzma,
    ];

    /// The format named by a file name's extension; no known extension means
    /// uncompressed.
    pub fn from_path(name: &str) -> Compression {
        Self::from_extension(name.rsplit_once('.').map_or("", |(_, e)| e))
            .unwrap_or(Compression::None)
    }

    /// The format for an extension without the dot (`"xz"`), `None` if unknown.
    pub fn from_extension(ext: &str) -> Option<Compression> {
        Some(match ext {
            "gz" => Compression::Gzip,
            "xz" => Compression::Xz,
            "zst" | "zstd" => Compression::Zstd,
            "bz2" => Compression::Bzip2,
            "lz4" => Compression::Lz4,
            "lzma" => Compression::Lzma,
            _ => return None,
        })
    }

    /// The usual extension, with its dot ("" for none).
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
            Compression::Bzip2 => ".bz2",
            Compression::Lz4 => ".lz4",
            Compression::Lzma => ".lzma",
        }
    }

    /// Guess from the first bytes of a stream (LZMA-alone has no magic).
    pub fn from_magic(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Compression::Xz,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b'B', b'Z', b'h', ..] => Compression::Bzip2,
            [0x04, 0x22, 0x4d, 0x18, ..] => Compression::Lz4,
            _ => Compression::None,
        }
    }

    /// Wrap `input` in a decoder for this format.
    pub fn decoder<'r, R: Read + Send + 'r>(
        self,
        input: R,
    ) -> io::Result<Box<dyn Read + Send + 'r>> {
        Ok(match self {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
            Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(input)),
            Compression::Lzma => {
                let stream = liblzma::stream::Stream::new_lzma_decoder(u64::MAX)
                    .map_err(io::Error::other)?;
                Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
            }
        })
    }
}

/// Decode all of `input`, compressed as its file `name` says, into memory.
pub fn read_all<R: Read + Send>(name: &str, input: R) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    Compression::from_path(name)
        .decoder(input)?
        .read_to_end(&mut out)?;
    Ok(out)
}
