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
        self.decoder_checked(input, Checked::No)
    }

    /// Wrap `input` in a decoder for this format; `checked` says whether
    /// `input`'s bytes were already proven against a strong hash.
    pub fn decoder_checked<'r, R: Read + Send + 'r>(
        self,
        input: R,
        checked: Checked,
    ) -> io::Result<Box<dyn Read + Send + 'r>> {
        Ok(match self {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Xz => {
                let mut flags = liblzma::stream::CONCATENATED;
                if checked == Checked::BySha256 {
                    flags |= liblzma::stream::IGNORE_CHECK;
                }
                let stream = liblzma::stream::Stream::new_auto_decoder(u64::MAX, flags)
                    .map_err(io::Error::other)?;
                Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
            }
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

/// Whether a compressed input's bytes were proven before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Not proven: every check the format carries is made.
    No,
    /// The whole file matched a SHA-256 the lock or a signed index gives
    /// (a .deb the build fetched or found in the cache): xz's own CRC-64
    /// of each block proves nothing more and is not computed (the bundled
    /// liblzma computes it without CLMUL: 5-6 % of a cold unpack's CPU).
    /// Damage to the container (sizes, index, padding) is still refused.
    BySha256,
}

/// Decode all of `input`, compressed as its file `name` says, into memory.
pub fn read_all<R: Read + Send>(name: &str, input: R) -> io::Result<Vec<u8>> {
    read_all_with(Compression::from_path(name), input)
}

/// Decode all of `input`, compressed with `c`, into memory.
pub fn read_all_with<R: Read + Send>(c: Compression, input: R) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    c.decoder(input)?.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encode(c: Compression, data: &[u8]) -> Vec<u8> {
        match c {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Lzma => {
                let opts = liblzma::stream::LzmaOptions::new_preset(1).unwrap();
                let s = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
                let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), s);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    #[test]
    fn every_format_round_trips_by_name_and_magic() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in Compression::BY_DECODE_COST {
            let packed = encode(c, &data);
            let name = format!("Packages{}", c.extension());
            assert_eq!(Compression::from_path(&name), c);
            assert_eq!(read_all(&name, packed.as_slice()).unwrap(), data, "{c:?}");
            if !matches!(c, Compression::Lzma | Compression::None) {
                assert_eq!(Compression::from_magic(&packed), c);
            }
        }
    }

    #[test]
    fn concatenated_streams_are_read_whole() {
        // Multi-member gzip/bzip2 and multi-stream xz are valid files.
        for c in [
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Xz,
            Compression::Zstd,
        ] {
            let mut both = encode(c, b"first ");
            both.extend(encode(c, b"second"));
            assert_eq!(
                read_all(&format!("x{}", c.extension()), both.as_slice()).unwrap(),
                b"first second",
                "{c:?}"
            );
        }
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let mut packed = encode(Compression::Xz, &[7u8; 10_000]);
        let n = packed.len();
        packed[n / 2] ^= 0xff;
        assert!(read_all("x.xz", packed.as_slice()).is_err());
        assert!(read_all("x.gz", &b"not gzip"[..]).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            Compression::from_path("dists/x/Packages"),
            Compression::None
        );
        assert_eq!(Compression::from_path("a.tar.zstd"), Compression::Zstd);
        assert_eq!(Compression::from_extension("rar"), None);
    }

    #[test]
    fn xz_check_is_skipped_only_for_input_proven_by_sha256() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 13).to_le_bytes())
            .collect();
        let packed = encode(Compression::Xz, &data);
        let decode = |bytes: &[u8], checked| {
            let mut out = Vec::new();
            Compression::Xz
                .decoder_checked(bytes, checked)
                .unwrap()
                .read_to_end(&mut out)
                .map(|_| out)
        };
        // The block's CRC-64 is the 8 bytes before the index, which the
        // stream footer's backward size locates.
        let n = packed.len();
        let footer = &packed[n - 12..];
        let backward = u32::from_le_bytes(footer[4..8].try_into().unwrap()) as usize;
        let index = n - 12 - (backward + 1) * 4;
        let mut damaged = packed.clone();
        damaged[index - 1] ^= 0xff;
        assert!(decode(&damaged, Checked::No).is_err());
        assert_eq!(decode(&damaged, Checked::BySha256).unwrap(), data);
        assert_eq!(decode(&packed, Checked::BySha256).unwrap(), data);
        // The container is still checked: a cut stream fails either way.
        assert!(decode(&packed[..n - 1], Checked::BySha256).is_err());
    }
}
