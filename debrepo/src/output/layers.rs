//! Per-spec image layers: the specs of an `extends` chain, base first,
//! each as one OCI layer that holds the difference from its parent.
//!
//! # How a chain becomes layers
//!
//! Each spec of the chain is built on its own, as its own image would be
//! (its packages, its scripts, its `SOURCE_DATE_EPOCH`), and written as a
//! tar stream by [`super::tar::write`]. The first layer is the base spec's
//! stream unchanged, so it is byte for byte the single layer of the base
//! spec's own image and shares its digest in a registry. Every later layer
//! is [`diff`] of the parent's stream and the child's:
//!
//! - an entry of the child whose bytes (PAX header, header, data) differ
//!   from the parent's entry of the same path, or that the parent lacks,
//!   is copied into the layer as the child's stream has it;
//! - a path of the parent that the child lacks becomes a whiteout,
//!   `DIR/.wh.NAME` (an empty regular file, root's, mode 0644, at the
//!   child's `SOURCE_DATE_EPOCH`), unless a removed or replaced directory
//!   above it already hides it;
//! - hard links: when one name of a hard-linked file is in the layer,
//!   every name of it is (the first as the file, the others as links to
//!   it), so the link never names a file of a lower layer;
//! - the order is the streams' (depth first, names sorted bytewise), with
//!   whiteouts in their place among their directory's entries, and the
//!   stream ends as the tar output does.
//!
//! Unpacking the layers in order gives exactly the child's own tree (its
//! single-layer image's stream), which the tests check.
//!
//! # What a child's layer carries
//!
//! A child is configured from scratch with all its packages, so whatever
//! its packages' scripts change in files the parent already has is in the
//! child's layer as the whole changed file: dpkg's database (`status`,
//! `available`, the `info/` lists of the new packages, `triggers/`),
//! `/etc/passwd`, `/etc/group`, `/etc/shadow` and `/etc/gshadow` when a
//! package adds a user, `ld.so.cache`, alternatives, and every file the
//! parent's scripts wrote with a time later than the child's
//! `SOURCE_DATE_EPOCH` allows. Files of the parent that the child leaves
//! as they are, with the same time, are not repeated.
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::tar::{self as tarout, TarOptions};
use super::{Format, ImageInfo, OutputError, OutputOptions, OutputReport};
use crate::sandbox::Users;

/// One spec's finished tree, a layer of the image.
#[derive(Debug, Clone)]
pub struct LayerTree {
    /// The spec (`""` for the unnamed `[spec]`).
    pub spec: String,
    /// The built tree.
    pub root: PathBuf,
    /// Who built it (see [`super::tar`]).
    pub users: Users,
    /// Its `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: u64,
}

/// A layer stream could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{}: cannot read the layer's tar stream", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a tar stream of rdebootstrap's tar output (at byte {offset}: {what})", path.display())]
    Format {
        path: PathBuf,
        offset: u64,
        what: &'static str,
    },
    #[error("writing a layer")]
    Write(#[source] io::Error),
    #[error(transparent)]
    Tar(tarout::TarError),
    #[error("{}: the tree changed while its layer was written", path.display())]
    Changed { path: PathBuf },
}

/// What [`diff`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiffReport {
    /// Entries copied from the child's stream.
    pub entries: usize,
    /// Whiteouts written.
    pub whiteouts: usize,
    /// Bytes of the layer's stream.
    pub bytes: u64,
}

/// One entry of a stream: where its bytes are, and what they are.
#[derive(Debug, Clone)]
struct Entry {
    /// The name without `./` and without a trailing slash (`""` for the
    /// root).
    path: Vec<u8>,
    start: u64,
    end: u64,
    flag: u8,
    /// A hard link's target, as `path`.
    link: Vec<u8>,
    digest: blake3::Hash,
}

fn normal(name: &[u8]) -> Vec<u8> {
    let name = name.strip_prefix(b".").unwrap_or(name);
    let name = name.strip_prefix(b"/").unwrap_or(name);
    name.strip_suffix(b"/").unwrap_or(name).to_vec()
}

fn field(block: &[u8], at: usize, len: usize) -> &[u8] {
    let f = &block[at..at + len];
    &f[..f.iter().position(|&b| b == 0).unwrap_or(len)]
}

fn octal(block: &[u8], at: usize, len: usize) -> Option<u64> {
    let f = field(block, at, len);
    let text = std::str::from_utf8(f).ok()?.trim_matches(|c| c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

fn padded(size: u64) -> u64 {
    size.div_ceil(512) * 512
}

/// The entries of a stream written by [`super::tar::write`] (or [`diff`]).
fn entries(path: &Path) -> Result<Vec<Entry>, LayerError> {
    let file = File::open(path).map_err(|source| LayerError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(read_entries(file, path)?.0)
}

/// The entries of the stream `r` (named `path` in errors), and the hash of
/// the whole stream.
fn read_entries(r: impl Read, path: &Path) -> Result<(Vec<Entry>, blake3::Hash), LayerError> {
    let read_err = |source| LayerError::Read {
        path: path.to_owned(),
        source,
    };
    let bad = |offset, what| LayerError::Format {
        path: path.to_owned(),
        offset,
        what,
    };
    let mut r = Tee {
        inner: BufReader::with_capacity(1 << 20, r),
        hasher: blake3::Hasher::new(),
    };
    let mut at = 0u64;
    let mut out = Vec::new();
    let mut block = [0u8; 512];
    loop {
        r.read_exact(&mut block).map_err(read_err)?;
        if block.iter().all(|&b| b == 0) {
            // The rest of the trailer, hashed too.
            io::copy(&mut r, &mut io::sink()).map_err(read_err)?;
            return Ok((out, r.hasher.finalize()));
        }
        let start = at;
        at += 512;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&block);
        let mut pax_path = None;
        let mut pax_link = None;
        let mut pax_size = None;
        if block[156] == b'x' {
            let size = octal(&block, 124, 12).ok_or_else(|| bad(start, "PAX header size"))?;
            let mut data = vec![0u8; padded(size) as usize];
            r.read_exact(&mut data).map_err(read_err)?;
            at += data.len() as u64;
            hasher.update(&data);
            let mut rest = &data[..size as usize];
            while !rest.is_empty() {
                let sp = rest
                    .iter()
                    .position(|&b| b == b' ')
                    .ok_or_else(|| bad(start, "PAX record"))?;
                let len: usize = std::str::from_utf8(&rest[..sp])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .filter(|&l| l > sp + 1 && l <= rest.len())
                    .ok_or_else(|| bad(start, "PAX record length"))?;
                let record = &rest[sp + 1..len - 1];
                let eq = record
                    .iter()
                    .position(|&b| b == b'=')
                    .ok_or_else(|| bad(start, "PAX record"))?;
                let (key, value) = (&record[..eq], &record[eq + 1..]);
                match key {
                    b"path" => pax_path = Some(value.to_vec()),
                    b"linkpath" => pax_link = Some(value.to_vec()),
                    b"size" => {
                        pax_size = std::str::from_utf8(value).ok().and_then(|t| t.parse().ok())
                    }
                    _ => {}
                }
                rest = &rest[len..];
            }
            r.read_exact(&mut block).map_err(read_err)?;
            at += 512;
            hasher.update(&block);
        }
        let flag = block[156];
        let name = pax_path.unwrap_or_else(|| field(&block, 0, 100).to_vec());
        let link = pax_link.unwrap_or_else(|| field(&block, 157, 100).to_vec());
        let size = match pax_size {
            Some(s) => s,
            None => octal(&block, 124, 12).ok_or_else(|| bad(start, "entry size"))?,
        };
        // Only regular files carry data in these streams.
        let data = if flag == b'0' { padded(size) } else { 0 };
        let mut left = data;
        let mut buf = [0u8; 64 << 10];
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            r.read_exact(&mut buf[..n]).map_err(read_err)?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        at += data;
        out.push(Entry {
            path: normal(&name),
            start,
            end: at,
            flag,
            link: if flag == b'1' {
                normal(&link)
            } else {
                Vec::new()
            },
            digest: hasher.finalize(),
        });
    }
}

/// Hashes what is read through it.
struct Tee<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn components(path: &[u8]) -> Vec<&[u8]> {
    if path.is_empty() {
        Vec::new()
    } else {
        path.split(|&b| b == b'/').collect()
    }
}

/// Write the layer that turns the tree of the stream `lower` into the
/// tree of the stream `upper` (both written by [`super::tar::write`]) into
/// `out`; whiteouts get the time `source_date_epoch`. See the module
/// documentation for the rules.
pub fn diff(
    lower: &Path,
    upper: &Path,
    source_date_epoch: u64,
    out: &mut dyn Write,
) -> Result<DiffReport, LayerError> {
    let below = entries(lower)?;
    let above = entries(upper)?;
    let src = File::open(upper).map_err(|source| LayerError::Read {
        path: upper.to_owned(),
        source,
    })?;
    Ok(copy_layer(&below, &above, src, upper, source_date_epoch, out)?.0)
}

/// Write the layer from `below` (the parent's entries) to `above` (the
/// child's), copying the child's entries from `src`, the child's stream
/// read from its start (named `upper` in errors); returns what was written
/// and the hash of the whole of `src`.
fn copy_layer(
    below: &[Entry],
    above: &[Entry],
    src: impl Read,
    upper: &Path,
    source_date_epoch: u64,
    out: &mut dyn Write,
) -> Result<(DiffReport, blake3::Hash), LayerError> {
    let parent: HashMap<&[u8], (blake3::Hash, u8)> = below
        .iter()
        .map(|e| (e.path.as_slice(), (e.digest, e.flag)))
        .collect();
    let child: HashMap<&[u8], u8> = above.iter().map(|e| (e.path.as_slice(), e.flag)).collect();
    let mut take: Vec<bool> = above
        .iter()
        .map(|e| parent.get(e.path.as_slice()).map(|p| p.0) != Some(e.digest))
        .collect();
    // Hard-link groups: every name of a file, or none.
    let index: HashMap<&[u8], usize> = above
        .iter()
        .enumerate()
        .map(|(i, e)| (e.path.as_slice(), i))
        .collect();
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, e) in above.iter().enumerate() {
        if e.flag == b'1' {
            if let Some(&t) = index.get(e.link.as_slice()) {
                groups.entry(t).or_insert_with(|| vec![t]).push(i);
            }
        }
    }
    for members in groups.values() {
        if members.iter().any(|&i| take[i]) {
            for &i in members {
                take[i] = true;
            }
        }
    }
    // Whiteouts: removed paths not hidden by a removed or replaced
    // directory above them.
    let hidden_above = |path: &[u8]| {
        let parts = components(path);
        (1..parts.len()).any(|n| {
            let dir = parts[..n].join(&b'/');
            child.get(dir.as_slice()) != Some(&b'5')
        })
    };
    let mut whiteouts: Vec<Vec<u8>> = below
        .iter()
        .filter(|e| !child.contains_key(e.path.as_slice()) && !hidden_above(&e.path))
        .map(|e| {
            let mut parts = components(&e.path);
            let base = parts.pop().unwrap_or_default();
            let mut name = parts.join(&b'/');
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(b".wh.");
            name.extend_from_slice(base);
            name
        })
        .collect();
    whiteouts.sort_by(|a, b| components(a).cmp(&components(b)));

    let write_err = LayerError::Write;
    let read_err = |source| LayerError::Read {
        path: upper.to_owned(),
        source,
    };
    let mut src = Tee {
        inner: BufReader::with_capacity(1 << 20, src),
        hasher: blake3::Hasher::new(),
    };
    let mut at = 0u64;
    let mut report = DiffReport::default();
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut wo = whiteouts.iter().peekable();
    let mut put_whiteout = |name: &[u8], w: &mut BufWriter<&mut dyn Write>| {
        let mut dotted = b"./".to_vec();
        dotted.extend_from_slice(name);
        let bytes = tarout::whiteout(&dotted, source_date_epoch);
        report.whiteouts += 1;
        report.bytes += bytes.len() as u64;
        w.write_all(&bytes)
    };
    let mut copied = Vec::new();
    for (e, _) in above.iter().zip(&take).filter(|(_, &t)| t) {
        while let Some(name) = wo.next_if(|n| components(n) < components(&e.path)) {
            put_whiteout(name, &mut w).map_err(write_err)?;
        }
        // Entries are in stream order: skip to this one, copy it.
        let skip =
            io::copy(&mut (&mut src).take(e.start - at), &mut io::sink()).map_err(read_err)?;
        let n = io::copy(&mut (&mut src).take(e.end - e.start), &mut w).map_err(write_err)?;
        if skip != e.start - at || n != e.end - e.start {
            return Err(LayerError::Format {
                path: upper.to_owned(),
                offset: at + skip + n,
                what: "the stream ended early",
            });
        }
        at = e.end;
        copied.push(e.end - e.start);
    }
    io::copy(&mut src, &mut io::sink()).map_err(read_err)?;
    for name in wo {
        put_whiteout(name, &mut w).map_err(write_err)?;
    }
    report.entries = copied.len();
    report.bytes += copied.iter().sum::<u64>();
    let trailer = tarout::trailer(report.bytes);
    w.write_all(&trailer).map_err(write_err)?;
    report.bytes += trailer.len() as u64;
    w.flush().map_err(write_err)?;
    Ok((report, src.hasher.finalize()))
}

/// Run `body` on the tar stream of `tree` (as [`super::tar::write`]
/// writes it at `epoch`), read from a pipe that a thread writes into:
/// the stream is never stored.
fn with_stream<T>(
    tree: &LayerTree,
    epoch: u64,
    body: impl FnOnce(&mut dyn Read) -> Result<T, LayerError>,
) -> Result<T, LayerError> {
    let (mut reader, writer) = io::pipe().map_err(LayerError::Write)?;
    let (root, opts) = (
        tree.root.clone(),
        TarOptions {
            source_date_epoch: epoch,
            users: tree.users.clone(),
        },
    );
    let writing = std::thread::spawn(move || {
        let mut w = BufWriter::with_capacity(1 << 20, writer);
        tarout::write(&root, &opts, &mut w)?;
        w.flush().map_err(tarout::TarError::Write)?;
        Ok::<_, tarout::TarError>(())
    });
    let read = body(&mut reader);
    // A reader that stopped early lets the writer fail on the closed pipe:
    // the reader's error is the one to tell.
    drop(reader);
    let written = writing.join().expect("the tar stream's thread");
    let value = read?;
    written.map_err(LayerError::Tar)?;
    Ok(value)
}

/// Write the layer that turns `lower`'s tree into `upper`'s into `out`,
/// from their tar streams (at `lower_epoch` and `epoch`), with no copy of
/// either stored: each tree is walked once to list its entries, and the
/// child's once more to copy the entries that changed (a tree that changed
/// meanwhile is an error). See the module documentation for the rules.
pub fn diff_trees(
    lower: &LayerTree,
    lower_epoch: u64,
    upper: &LayerTree,
    epoch: u64,
    out: &mut dyn Write,
) -> Result<DiffReport, LayerError> {
    let below = with_stream(lower, lower_epoch, |r| read_entries(r, &lower.root))?.0;
    let (above, listed) = with_stream(upper, epoch, |r| read_entries(r, &upper.root))?;
    let (report, copied) = with_stream(upper, epoch, |r| {
        copy_layer(&below, &above, r, &upper.root, epoch, out)
    })?;
    if copied != listed {
        return Err(LayerError::Changed {
            path: upper.root.clone(),
        });
    }
    Ok(report)
}

/// Write the chain `trees` (base first, each spec's own tree) as one OCI
/// image (`oci` or `oci-archive`, as `opts` says) with one layer per spec:
/// the base's tar stream, then each spec's [`diff_trees`] from its parent,
/// each made while it is compressed (no stream is stored). The image's
/// time is the last tree's `SOURCE_DATE_EPOCH` (or the options').
pub fn write_image(
    trees: &[LayerTree],
    opts: &OutputOptions,
    image: &ImageInfo,
) -> Result<OutputReport, OutputError> {
    use std::sync::{Arc, Mutex};
    let Some(last) = trees.last() else {
        return Err(OutputError::Write {
            path: opts.path.clone(),
            source: io::Error::other("no tree to write"),
        });
    };
    let epoch_of = |t: &LayerTree| opts.source_date_epoch.unwrap_or(t.source_date_epoch);
    // (entries, uncompressed bytes) of each layer, as written.
    let counts: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    let mut layers = Vec::new();
    for (i, t) in trees.iter().enumerate() {
        let label = crate::manifest::spec_label(&t.spec);
        let seen = counts.clone();
        let (tree, epoch) = (t.clone(), epoch_of(t));
        let layer = if i == 0 {
            crate::oci::LayerSource::from_writer(move |w| {
                let r = tarout::write(
                    &tree.root,
                    &TarOptions {
                        source_date_epoch: epoch,
                        users: tree.users.clone(),
                    },
                    w,
                )?;
                seen.lock().expect("counts").push((r.entries, r.bytes));
                Ok(())
            })
            .with_history(
                format!("rdebootstrap build --spec {label} (the whole tree)"),
                Some(format!("spec {label}")),
            )
        } else {
            let parent = trees[i - 1].clone();
            let parent_epoch = epoch_of(&parent);
            crate::oci::LayerSource::from_writer(move |w| {
                let d = diff_trees(&parent, parent_epoch, &tree, epoch, w).map_err(|source| {
                    OutputError::Layer {
                        spec: tree.spec.clone(),
                        source,
                    }
                })?;
                seen.lock()
                    .expect("counts")
                    .push((d.entries + d.whiteouts, d.bytes));
                Ok(())
            })
            .with_history(
                format!("rdebootstrap build --spec {label} (its difference from its parent)"),
                Some(format!("spec {label}")),
            )
        };
        layers.push(layer);
    }
    let epoch = epoch_of(last);
    let mut config = crate::oci::ImageConfig::new(image.arch.clone(), epoch as i64);
    config.lock_hash = image.lock_hash.clone();
    config.spec_hash = image.spec_hash.clone();
    config.referrers = image.referrers.clone();
    let digests = match opts.format {
        Format::Oci => crate::oci::write_layout(&opts.path, &layers, &config)?,
        Format::OciArchive => crate::oci::write_archive(&opts.path, &layers, &config)?,
        format => return Err(OutputError::NotYet { format }),
    };
    let bytes = match opts.format {
        Format::OciArchive => std::fs::metadata(&opts.path).map_or(0, |m| m.len()),
        _ => {
            digests.manifest.size
                + digests.config.size
                + digests.layers.iter().map(|l| l.blob.size).sum::<u64>()
        }
    };
    let counts = counts.lock().expect("counts");
    Ok(OutputReport {
        path: opts.path.clone(),
        format: opts.format,
        source_date_epoch: epoch,
        entries: counts.iter().map(|c| c.0).sum(),
        tar_bytes: counts.iter().map(|c| c.1).sum(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn stream(root: &Path, out: &Path, epoch: u64) {
        let mut f = File::create(out).unwrap();
        tarout::write(
            root,
            &TarOptions {
                source_date_epoch: epoch,
                users: Users::Host,
            },
            &mut f,
        )
        .unwrap();
    }

    fn names(path: &Path) -> Vec<(String, u8)> {
        entries(path)
            .unwrap()
            .into_iter()
            .map(|e| (String::from_utf8(e.path).unwrap(), e.flag))
            .collect()
    }

    fn write(path: &Path, data: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    #[test]
    fn a_layer_holds_what_changed_whiteouts_and_whole_link_groups() {
        let t = testkit::TempDir::new("layers-diff");
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        for root in [&lower, &upper] {
            write(&root.join("etc/same"), "same");
            write(&root.join("etc/changed"), "old");
            write(&root.join("usr/bin/tool"), "tool");
            std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool-alias")).unwrap();
            write(&root.join("gone/deep/file"), "x");
            write(&root.join("etc/removed"), "x");
            write(&root.join("replaced/child"), "x");
        }
        write(&upper.join("etc/changed"), "new");
        write(&upper.join("etc/added"), "added");
        // A change of content through one name of a hard-linked file.
        write(&upper.join("usr/bin/tool"), "tool 2");
        std::fs::remove_file(upper.join("usr/bin/tool-alias")).unwrap();
        std::fs::hard_link(upper.join("usr/bin/tool"), upper.join("usr/bin/tool-alias")).unwrap();
        std::fs::remove_dir_all(upper.join("gone")).unwrap();
        std::fs::remove_file(upper.join("etc/removed")).unwrap();
        std::fs::remove_dir_all(upper.join("replaced")).unwrap();
        write(&upper.join("replaced"), "a file now");
        // Directory times the same in both: only what changed differs.
        let epoch = 1_000_000;
        let (a, b, d) = (
            t.path().join("a.tar"),
            t.path().join("b.tar"),
            t.path().join("d.tar"),
        );
        stream(&lower, &a, epoch);
        stream(&upper, &b, epoch);
        let mut f = File::create(&d).unwrap();
        let r = diff(&a, &b, epoch, &mut f).unwrap();
        drop(f);
        let got: Vec<_> = names(&d)
            .into_iter()
            .filter(|(n, _)| !n.starts_with("dev"))
            .collect();
        let want: Vec<(String, u8)> = [
            ("etc/.wh.removed", b'0'),
            ("etc/added", b'0'),
            ("etc/changed", b'0'),
            (".wh.gone", b'0'),
            ("replaced", b'0'),
            ("usr/bin/tool", b'0'),
            ("usr/bin/tool-alias", b'1'),
        ]
        .iter()
        .map(|(n, f)| (n.to_string(), *f))
        .collect();
        // Directories whose entries changed are in the layer with their
        // new times only if those differ; here the trees were made at
        // nearly the same time, so compare what is not a directory.
        let files: Vec<_> = got.iter().filter(|(_, f)| *f != b'5').cloned().collect();
        let mut sorted_want = want.clone();
        sorted_want.sort_by(|x, y| components(x.0.as_bytes()).cmp(&components(y.0.as_bytes())));
        assert_eq!(files, sorted_want);
        assert_eq!(r.whiteouts, 2);
        // The stream ends as a tar stream does.
        assert_eq!(r.bytes % 10240, 0);
        assert_eq!(std::fs::metadata(&d).unwrap().len(), r.bytes);
        // From the trees, streamed: the same bytes as from the files.
        let tree = |root: &Path| LayerTree {
            spec: String::new(),
            root: root.to_owned(),
            users: Users::Host,
            source_date_epoch: epoch,
        };
        let mut streamed = Vec::new();
        let s = diff_trees(&tree(&lower), epoch, &tree(&upper), epoch, &mut streamed).unwrap();
        assert_eq!(s, r);
        assert!(streamed == std::fs::read(&d).unwrap());
        // A layer of a tree onto itself is empty.
        let mut f = File::create(&d).unwrap();
        let r = diff(&b, &b, epoch, &mut f).unwrap();
        assert_eq!((r.entries, r.whiteouts, r.bytes), (0, 0, 10240));
    }

    #[test]
    fn long_whiteout_names_go_into_pax_records() {
        let name = format!("./{}/.wh.{}", "d".repeat(80), "f".repeat(40));
        let bytes = tarout::whiteout(name.as_bytes(), 5);
        assert_eq!(bytes.len() % 512, 0);
        let t = testkit::TempDir::new("layers-pax");
        let p = t.path().join("w.tar");
        let mut all = bytes.clone();
        all.extend(tarout::trailer(bytes.len() as u64));
        std::fs::write(&p, &all).unwrap();
        let e = entries(&p).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, &name.as_bytes()[2..]);
        // And the tar crate reads the same name.
        let mut a = ::tar::Archive::new(File::open(&p).unwrap());
        let first = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.path().unwrap().to_str().unwrap(), name);
    }
}
