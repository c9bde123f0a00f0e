//! Test support for rdebootstrap and debrepo.
//!
//! [`DebBuilder`] makes synthetic binary packages in memory, with any
//! compression for the control and data members, so that tests need no
//! dpkg-deb. It is written independently of debrepo's reader (it uses the
//! `ar` and `tar` crates) so that the two check each other.

pub mod archive;
pub mod chroot;
pub mod gpg;
pub mod http;
pub mod http2;
pub mod mirror;
pub mod sbomcheck;
pub mod tls;
pub mod users;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Compression of a .deb member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    Lzma,
}

impl Comp {
    /// Every compression.
    pub const ALL: [Comp; 6] = [
        Comp::None,
        Comp::Gzip,
        Comp::Xz,
        Comp::Zstd,
        Comp::Bzip2,
        Comp::Lzma,
    ];
    /// The ones dpkg allows for control.tar.
    pub const CONTROL: [Comp; 4] = [Comp::None, Comp::Gzip, Comp::Xz, Comp::Zstd];

    /// Member name suffix (`""`, `.gz`, ...).
    pub fn suffix(self) -> &'static str {
        match self {
            Comp::None => "",
            Comp::Gzip => ".gz",
            Comp::Xz => ".xz",
            Comp::Zstd => ".zst",
            Comp::Bzip2 => ".bz2",
            Comp::Lzma => ".lzma",
        }
    }

    /// Compress `data`.
    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Comp::None => data.to_vec(),
            Comp::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Comp::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Comp::Zstd => zstd::encode_all(data, 3).unwrap(),
            Comp::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Comp::Lzma => {
                let opts = liblzma::stream::LzmaOptions::new_preset(6).unwrap();
                let stream = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
                let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }
}

/// What a data entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    HardLink(String),
    CharDevice(u32, u32),
    BlockDevice(u32, u32),
    Fifo,
    /// Any tar type byte, with data.
    Raw(u8, Vec<u8>),
}

/// A data entry to put in the package.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path as written in the tar (`./usr/bin/x`).
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub mtime: u64,
    /// PAX records (`SCHILY.xattr.security.capability`, ...).
    pub pax: Vec<(String, Vec<u8>)>,
}

/// Builds a .deb in memory.
#[derive(Debug, Clone)]
pub struct DebBuilder {
    control: Vec<(String, String)>,
    control_files: Vec<(String, u32, Vec<u8>)>,
    entries: Vec<Entry>,
    control_comp: Comp,
    data_comp: Comp,
    format: String,
    extra_members: Vec<(usize, String, Vec<u8>)>,
    mtime: u64,
    omit_control: bool,
    /// Keep only this many bytes of the uncompressed data.tar.
    data_tar_len: Option<usize>,
    /// Keep only this many bytes of the uncompressed control.tar.
    control_tar_len: Option<usize>,
    /// Members given as bytes, replacing the built ones: (name, bytes).
    control_member: Option<(String, Vec<u8>)>,
    data_member: Option<(String, Vec<u8>)>,
}

impl DebBuilder {
    /// A package with the given name, version and architecture.
    pub fn new(name: &str, version: &str, arch: &str) -> Self {
        DebBuilder {
            control: vec![
                ("Package".into(), name.into()),
                ("Version".into(), version.into()),
                ("Architecture".into(), arch.into()),
                (
                    "Maintainer".into(),
                    "Test Suite <test@example.invalid>".into(),
                ),
                (
                    "Description".into(),
                    format!("synthetic package {name}\n made by the test suite"),
                ),
            ],
            control_files: Vec::new(),
            entries: vec![],
            control_comp: Comp::Xz,
            data_comp: Comp::Xz,
            format: "2.0\n".into(),
            extra_members: Vec::new(),
            mtime: 1_700_000_000,
            omit_control: false,
            data_tar_len: None,
            control_tar_len: None,
            control_member: None,
            data_member: None,
        }
        .dir("./")
    }

    /// Set (or add) a control field.
    pub fn field(mut self, name: &str, value: &str) -> Self {
        match self
            .control
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value.into(),
            None => self.control.push((name.into(), value.into())),
        }
        self
    }

    /// Add a control member file (`postinst`, `conffiles`, `triggers`, ...).
    pub fn control_file(mut self, name: &str, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        self.control_files.push((name.into(), mode, data.into()));
        self
    }

    /// Compression of control.tar.
    pub fn control_compression(mut self, c: Comp) -> Self {
        self.control_comp = c;
        self
    }

    /// Compression of data.tar.
    pub fn data_compression(mut self, c: Comp) -> Self {
        self.data_comp = c;
        self
    }

    /// Leave the `control` file out of the control member (a broken package).
    pub fn no_control_file(mut self) -> Self {
        self.omit_control = true;
        self
    }

    /// Contents of `debian-binary`.
    pub fn format(mut self, text: &str) -> Self {
        self.format = text.into();
        self
    }

    /// Insert an extra ar member before the member at `index` (0 =
    /// debian-binary, 1 = control, 2 = data, 3 = at the end).
    pub fn extra_member(mut self, index: usize, name: &str, data: &[u8]) -> Self {
        self.extra_members.push((index, name.into(), data.to_vec()));
        self
    }

    fn push(mut self, path: &str, kind: Kind, mode: u32) -> Self {
        self.entries.push(Entry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            uname: "root".into(),
            gname: "root".into(),
            mtime: self.mtime,
            pax: Vec::new(),
        });
        self
    }

    /// An entry with any tar type byte (`b'7'`, `b'V'`, ...) and data.
    pub fn raw_entry(self, path: &str, typeflag: u8, data: impl Into<Vec<u8>>) -> Self {
        self.push(path, Kind::Raw(typeflag, data.into()), 0o644)
    }

    /// Cut the uncompressed data.tar to its first `len` bytes (a truncated
    /// package; see [`DebBuilder::data_tar`] for the offsets).
    pub fn truncate_data_tar(mut self, len: usize) -> Self {
        self.data_tar_len = Some(len);
        self
    }

    /// Cut the uncompressed control.tar to its first `len` bytes.
    pub fn truncate_control_tar(mut self, len: usize) -> Self {
        self.control_tar_len = Some(len);
        self
    }

    /// Use `bytes` as the control member, named `name`
    /// (`control.tar.zst`), instead of the built one.
    pub fn control_member(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.control_member = Some((name.into(), bytes));
        self
    }

    /// Use `bytes` as the data member, named `name`, instead of the built one.
    pub fn data_member(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.data_member = Some((name.into(), bytes));
        self
    }

    /// A directory (`./usr/`).
    pub fn dir(self, path: &str) -> Self {
        self.push(path, Kind::Dir, 0o755)
    }

    /// A regular file with mode 0644.
    pub fn file(self, path: &str, data: impl Into<Vec<u8>>) -> Self {
        self.push(path, Kind::File(data.into()), 0o644)
    }

    /// A regular file with a given mode.
    pub fn file_mode(self, path: &str, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        self.push(path, Kind::File(data.into()), mode)
    }

    /// A symbolic link.
    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.push(path, Kind::Symlink(target.into()), 0o777)
    }

    /// A hard link to an earlier entry.
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.push(path, Kind::HardLink(target.into()), 0o644)
    }

    /// A character device.
    pub fn char_device(self, path: &str, major: u32, minor: u32) -> Self {
        self.push(path, Kind::CharDevice(major, minor), 0o666)
    }

    /// A block device.
    pub fn block_device(self, path: &str, major: u32, minor: u32) -> Self {
        self.push(path, Kind::BlockDevice(major, minor), 0o660)
    }

    /// A named pipe.
    pub fn fifo(self, path: &str) -> Self {
        self.push(path, Kind::Fifo, 0o644)
    }

    /// Change the last entry's owner.
    pub fn owner(mut self, uid: u64, gid: u64, uname: &str, gname: &str) -> Self {
        let e = self.entries.last_mut().expect("an entry");
        (e.uid, e.gid, e.uname, e.gname) = (uid, gid, uname.into(), gname.into());
        self
    }

    /// Add a PAX record to the last entry.
    pub fn pax(mut self, key: &str, value: &[u8]) -> Self {
        let e = self.entries.last_mut().expect("an entry");
        e.pax.push((key.into(), value.to_vec()));
        self
    }

    /// The control file text.
    pub fn control_text(&self) -> String {
        let mut out = String::new();
        for (n, v) in &self.control {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push('\n');
        }
        out
    }

    /// The entries, as they will be written.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn control_tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, mode: u32, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(self.mtime);
            h.set_username("root").unwrap();
            h.set_groupname("root").unwrap();
            // By hand: hostile packages have names the tar crate refuses
            // (`../x`, `/x`).
            let name = if name.starts_with('/') || name.starts_with("./") || name.starts_with("../")
            {
                name.to_owned()
            } else {
                format!("./{name}")
            };
            set_name(&mut h, &name);
            h.set_cksum();
            b.append(&h, data).unwrap();
        };
        if !self.omit_control {
            add("control", 0o644, self.control_text().as_bytes());
        }
        for (name, mode, data) in &self.control_files {
            add(name, *mode, data);
        }
        let mut out = b.into_inner().unwrap();
        if let Some(len) = self.control_tar_len {
            out.truncate(len);
        }
        out
    }

    /// The uncompressed data.tar, as [`DebBuilder::build`] puts it in the
    /// package (before [`DebBuilder::truncate_data_tar`]).
    pub fn data_tar(&self) -> Vec<u8> {
        let mut out = self.full_data_tar();
        if let Some(len) = self.data_tar_len {
            out.truncate(len);
        }
        out
    }

    fn full_data_tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in &self.entries {
            if !e.pax.is_empty() {
                b.append_pax_extensions(e.pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                    .unwrap();
            }
            let mut h = tar::Header::new_gnu();
            h.set_mode(e.mode);
            h.set_uid(e.uid);
            h.set_gid(e.gid);
            h.set_username(&e.uname).unwrap();
            h.set_groupname(&e.gname).unwrap();
            h.set_mtime(e.mtime);
            h.set_size(0);
            let path = Path::new(&e.path);
            let dotdot = |p: &str| p.split('/').any(|c| c == "..");
            let link = match &e.kind {
                Kind::Symlink(t) | Kind::HardLink(t) => Some(t.as_str()),
                _ => None,
            };
            if dotdot(&e.path)
                || e.path.starts_with('/')
                || e.path.contains('\n')
                || matches!(e.kind, Kind::Raw(..))
                || (matches!(e.kind, Kind::HardLink(_)) && link.is_some_and(dotdot))
            {
                // The tar crate refuses `..`, absolute paths and odd
                // types; hostile packages have them, so write the header
                // by hand.
                set_name(&mut h, &e.path);
                let data: &[u8] = match &e.kind {
                    Kind::File(d) => {
                        h.set_entry_type(tar::EntryType::Regular);
                        h.set_size(d.len() as u64);
                        d
                    }
                    Kind::Raw(t, d) => {
                        h.set_entry_type(tar::EntryType::new(*t));
                        h.set_size(d.len() as u64);
                        d
                    }
                    Kind::HardLink(t) => {
                        h.set_entry_type(tar::EntryType::Link);
                        let gnu = h.as_gnu_mut().expect("a GNU header");
                        gnu.linkname = [0; 100];
                        gnu.linkname[..t.len()].copy_from_slice(t.as_bytes());
                        &[]
                    }
                    _ => {
                        h.set_entry_type(tar::EntryType::Directory);
                        &[]
                    }
                };
                h.set_cksum();
                b.append(&h, data).unwrap();
                continue;
            }
            match &e.kind {
                Kind::File(data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, path, data.as_slice()).unwrap();
                }
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    b.append_data(&mut h, path, io::empty()).unwrap();
                }
                Kind::Symlink(t) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    b.append_link(&mut h, path, t).unwrap();
                }
                Kind::HardLink(t) => {
                    h.set_entry_type(tar::EntryType::Link);
                    b.append_link(&mut h, path, t).unwrap();
                }
                Kind::CharDevice(ma, mi) | Kind::BlockDevice(ma, mi) => {
                    h.set_entry_type(if matches!(e.kind, Kind::CharDevice(..)) {
                        tar::EntryType::Char
                    } else {
                        tar::EntryType::Block
                    });
                    h.set_device_major(*ma).unwrap();
                    h.set_device_minor(*mi).unwrap();
                    b.append_data(&mut h, path, io::empty()).unwrap();
                }
                Kind::Fifo => {
                    h.set_entry_type(tar::EntryType::Fifo);
                    b.append_data(&mut h, path, io::empty()).unwrap();
                }
                Kind::Raw(..) => unreachable!("written by hand above"),
            }
        }
        b.into_inner().unwrap()
    }

    /// The .deb's bytes.
    pub fn build(&self) -> Vec<u8> {
        let members: Vec<(String, Vec<u8>)> = vec![
            ("debian-binary".into(), self.format.clone().into_bytes()),
            self.control_member.clone().unwrap_or_else(|| {
                (
                    format!("control.tar{}", self.control_comp.suffix()),
                    self.control_comp.compress(&self.control_tar()),
                )
            }),
            self.data_member.clone().unwrap_or_else(|| {
                (
                    format!("data.tar{}", self.data_comp.suffix()),
                    self.data_comp.compress(&self.data_tar()),
                )
            }),
        ];
        let mut out = ar::Builder::new(Vec::new());
        let mut append = |name: &str, data: &[u8]| {
            let mut h = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
            h.set_mode(0o100644);
            h.set_mtime(self.mtime);
            out.append(&h, data).unwrap();
        };
        for (i, (name, data)) in members.iter().enumerate() {
            for (_, n, d) in self.extra_members.iter().filter(|(at, _, _)| *at == i) {
                append(n, d);
            }
            append(name, data);
        }
        for (_, n, d) in self.extra_members.iter().filter(|(at, _, _)| *at >= 3) {
            append(n, d);
        }
        out.into_inner().unwrap()
    }

    /// Write the .deb into `dir` as `<name>.deb` and return its path.
    pub fn write_to(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.deb"));
        std::fs::write(&path, self.build()).unwrap();
        path
    }
}

/// Put `name` into a GNU header's name field as it is (at most 100 bytes).
fn set_name(h: &mut tar::Header, name: &str) {
    let gnu = h.as_gnu_mut().expect("a GNU header");
    gnu.name = [0; 100];
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
}

/// A zstd-compressed tar holding one regular file `name` of `size` zero
/// bytes, made as a stream: a bomb of any size in little memory (1 GiB of
/// zeros compresses to about 32 KiB).
pub fn zstd_tar_of_zeros(name: &str, size: u64) -> Vec<u8> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    set_name(&mut h, name);
    h.set_cksum();
    enc.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        enc.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    // Padding, then the end-of-archive blocks.
    let pad = (512 - size % 512) % 512;
    enc.write_all(&vec![0u8; pad as usize + 1024]).unwrap();
    enc.finish().unwrap()
}

/// The repository's `tests/data` directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// The real trixie Packages index, decompressed.
pub fn trixie_packages() -> Vec<u8> {
    let path = data_dir().join("trixie/main/binary-amd64/Packages.xz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    io::Read::read_to_end(&mut liblzma::read::XzDecoder::new(file), &mut out).unwrap();
    out
}

/// A directory that is removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory under the system temporary directory.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "rdebootstrap-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small deterministic random generator (xorshift64) for seeded tests:
/// failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Every path under `root` (relative), with its type, permission bits,
/// owner, and the SHA-256 of a regular file's content or a symlink's
/// target: what two trees are compared by.
pub fn tree_snapshot(root: &Path) -> std::collections::BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_owned()
            } else if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                archive::sha256_hex(&std::fs::read(&p).unwrap())
            } else {
                format!("special {:o}", m.mode() >> 12)
            };
            out.insert(
                rel,
                format!("{what} {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
            );
        }
    }
    out
}

/// Asserts that every `tests/*.rs` of the crate at `manifest_dir` is
/// built: a module (`mod NAME;`) of `tests/all.rs` (whose text is
/// `all_rs`) or a `[[test]]` with `path = "tests/NAME.rs"` in its
/// Cargo.toml (`cargo_toml`). The crates set `autotests = false`, so a new
/// file in neither would never run.
pub fn assert_every_test_file_is_built(manifest_dir: &str, all_rs: &str, cargo_toml: &str) {
    let dir = Path::new(manifest_dir).join("tests");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".rs") || name == "all.rs" {
            continue;
        }
        assert!(
            all_rs.contains(&format!("\nmod {};\n", name.trim_end_matches(".rs")))
                || cargo_toml.contains(&format!("path = \"tests/{name}\"")),
            "{}/{name} is not built: add it to tests/all.rs or as a [[test]] in Cargo.toml",
            dir.display()
        );
    }
}

/// Whether this run promises every prerequisite of the tests (root, the
/// tools `.ci/run` installs, users): `CI` or `RDEBOOTSTRAP_E2E` set.
pub fn must_run_all() -> bool {
    ["CI", "RDEBOOTSTRAP_E2E"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

/// A test's prerequisite (`what`), found or not: when it is missing, the
/// test fails under [`must_run_all`], and elsewhere says so and skips.
pub fn required<T>(found: Option<T>, what: &str) -> Option<T> {
    if found.is_none() {
        assert!(
            !must_run_all(),
            "{what} is missing, and CI or RDEBOOTSTRAP_E2E is set (they promise it)"
        );
        eprintln!("{what} is missing: skipping (set CI=1 to make this a failure)");
    }
    found
}

/// [`required`] for a condition.
pub fn require(holds: bool, what: &str) -> bool {
    required(holds.then_some(()), what).is_some()
}
