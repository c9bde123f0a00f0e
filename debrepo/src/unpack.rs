//! Unpacking packages into a root tree, as dpkg lays their files out.
//!
//! Safety first: every path is resolved *inside* the root with
//! `openat2(RESOLVE_IN_ROOT)`, so that `..`, absolute symlinks and symlinks
//! planted by an earlier entry can never lead outside it; a symlink such as
//! `bin -> usr/bin` (merged /usr) is followed as dpkg follows it, so files
//! shipped under `./bin/` land in `usr/bin` and `bin` stays a symlink.
//! What the archive itself may not hold (newlines and `..` in names, hard
//! links to anything but an earlier file of the same package, malformed or
//! truncated tar streams, ...) is refused by the reader, [`crate::deb`],
//! whose module docs list it with the reasons.
//!
//! No half state: each entry is written under a temporary name
//! (`.NAME.N.rdebootstrap-tmp`), read to its end and its tar padding (so
//! the archive is known whole up to it), and only then renamed into
//! place; a truncated entry never appears under its final name. When an
//! entry fails, its temporaries are removed before the error is returned;
//! the entries before it are complete.
//!
//! With [`Unpacker::with_direct_writes`] (a build, whose whole tree is
//! marked unfinished until it ends), an entry whose path is free is
//! created under its final name at once, saving the temporary's directory
//! entry and the rename (a third of the metadata writes of a small file);
//! a failed entry is still removed before the error is returned. A path
//! that is taken (another package's file, which a `Replaces` may take
//! over; a directory, which is an error) goes the temporary's way.
//!
//! Beyond dpkg: an absolute entry path is taken inside the root, as dpkg
//! takes it; a symlink is created where it comes in the archive (dpkg
//! defers symlinks to the end), which cannot matter for containment, since
//! every later path is resolved inside the root anyway. As root, device
//! nodes are made as the package ships them (the tree is for a system that
//! needs them); rootless, they are recorded.
//!
//! Several packages may be unpacked at once (one [`Unpacker`], many
//! threads). Which package owns a path is decided under one lock, by rules
//! that do not depend on timing: directories are shared; a second package
//! shipping the same non-directory path is an error unless one `Replaces`
//! the other (the replacing package wins, whichever came first) or both
//! ship the same symlink. Paths are compared after resolution in the root,
//! so `/bin/x` and `/usr/bin/x` of a merged-/usr tree are the same file.
//! A new directory is made under a temporary name, given its owner, mode
//! and time, then renamed in without replacing: another package's entries
//! cannot go into it before its time is set, which would otherwise keep
//! the shipped time or not depending on timing. The first package to make
//! a shared directory decides its owner and mode, as the first installed
//! does in dpkg; here the first is the first in time, so packages that
//! ship one directory with different owners or modes would make the
//! result depend on timing (none of the benchmark sets' do).
//!
//! Conffiles are written as `<path>.dpkg-new`, as dpkg stages them until
//! `dpkg --configure` installs them.
//!
//! Path filters ([`Unpacker::with_filters`], [`crate::pathfilter`]) skip
//! entries as dpkg's `--path-exclude`/`--path-include` do: a skipped
//! entry is not written (a skipped directory is not created, and an entry
//! below it then fails as it does in dpkg), but it is listed in the
//! package's `.list` and still claims its path against other packages;
//! the `md5sums` the unpacker makes for a package without one has only
//! the files written, as dpkg's has.
//!
//! Ownership and device nodes need root. With [`Ownership::Record`]
//! (rootless), files get the caller's ownership, device nodes become empty
//! placeholder files, and the true metadata is returned in
//! [`Unpacked::recorded`] for a later tar or OCI writer.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{AtFlags, Mode, OFlags, Timestamps};

use crate::deb::DebError;
use crate::deb::{DataArchive, EntryKind, EntryMeta};
use crate::pathfilter::PathFilters;
use crate::relation::{self, FieldKind};
use crate::tree::Tree;
use crate::version::Version;

mod stage;

/// Whether ownership and device nodes are applied or recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// As root: chown, device nodes, capabilities.
    Apply,
    /// Rootless: kept in [`Unpacked::recorded`].
    Record,
}

impl Ownership {
    /// [`Ownership::Apply`] when running as root.
    pub fn for_this_process() -> Ownership {
        if rustix::process::geteuid().is_root() {
            Ownership::Apply
        } else {
            Ownership::Record
        }
    }
}

/// What the unpacker needs to know of each package up front.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The raw `Replaces` field (empty if none).
    pub replaces: String,
    /// Conffile paths (`/etc/...`) from the package's `conffiles`.
    pub conffiles: Vec<String>,
    /// The package ships an `md5sums`; without one, the unpacker makes it.
    pub has_md5sums: bool,
    /// Put its conffiles at their own paths too, not only as `.dpkg-new`:
    /// mmdebstrap extracts the essential packages before dpkg installs
    /// them, so their conffiles (`/etc/login.defs`, ...) are in place
    /// while the other packages are configured.
    pub conffiles_in_place: bool,
}

impl PackageInfo {
    /// Read it from a package's control files.
    pub fn from_control(control: &crate::deb::ControlFiles) -> Result<PackageInfo, DebError> {
        let p = control.package()?;
        Ok(PackageInfo {
            name: p.name.to_owned(),
            version: p.version.as_str().to_owned(),
            arch: p.architecture.to_owned(),
            replaces: p.field("Replaces").unwrap_or_default().to_owned(),
            conffiles: control
                .conffiles()?
                .iter()
                .map(|c| c.path.to_owned())
                .collect(),
            has_md5sums: control.file("md5sums").is_some(),
            conffiles_in_place: false,
        })
    }
}

/// True metadata of an entry that a rootless unpack could not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Path in the tree, relative to the root, after resolution.
    pub path: PathBuf,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub device: Option<(u32, u32)>,
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// The inode it was written to: a path a maintainer script replaced
    /// later has another, and this record no longer applies to it.
    pub inode: u64,
}

/// The result of unpacking a set of packages.
#[derive(Debug, Default)]
pub struct Unpacked {
    /// Per package (in [`Unpacker::new`]'s order), the paths it installed,
    /// as dpkg's `info/<pkg>.list` has them (archive order, the root as
    /// `/.`); files lost to a `Replaces` are not listed.
    pub lists: Vec<Vec<String>>,
    /// Per package that ships no `md5sums`, the one dpkg would make.
    pub md5sums: Vec<Option<String>>,
    /// Rootless only: metadata not applied to the tree, sorted by path.
    pub recorded: Vec<Recorded>,
    /// The newest modification time (seconds since 1970) of any entry of
    /// the packages' data archives: fixed by the packages' hashes, so by
    /// the lock (the default `SOURCE_DATE_EPOCH` of [`crate::output`]).
    pub newest_mtime: u64,
}

/// Unpacking failed.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("{root}: cannot open the target directory")]
    Root {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{package}: reading the data archive")]
    Deb {
        package: String,
        #[source]
        source: DebError,
    },
    #[error("{package}: {path}: {what}")]
    Fs {
        package: String,
        path: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{package}: trying to overwrite {path}, which is also in package {other} (neither declares Replaces on the other)")]
    Conflict {
        package: String,
        path: String,
        other: String,
    },
    #[error("{package}: {path}: inside the directory the build unpacks into first (a staged build's), which no package may ship")]
    InStage { package: String, path: String },
    #[error("{package}: {path}: a link made by a maintainer script leads it into the directory the build unpacks into first (a staged build's), where its files would be lost")]
    LinkIntoStage { package: String, path: String },
    #[error("{package}: {path}: cannot put a {new} where the tree has a {existing}")]
    KindClash {
        package: String,
        path: String,
        new: &'static str,
        existing: &'static str,
    },
}

/// Who owns a path, and what it is.
#[derive(Debug, Clone)]
struct Claim {
    owner: usize,
    kind: EntryKind,
    link: Option<PathBuf>,
}

/// A path as the package lists it, and where it landed in the tree.
type Listed = (String, Option<PathBuf>);

/// Unpacks packages into one root; share it between threads.
pub struct Unpacker {
    tree: Tree,
    ownership: Ownership,
    packages: Vec<PackageInfo>,
    claims: Mutex<HashMap<PathBuf, Claim>>,
    lists: Mutex<Vec<Vec<Listed>>>,
    md5sums: Mutex<Vec<Option<String>>>,
    recorded: Mutex<Vec<Recorded>>,
    newest_mtime: std::sync::atomic::AtomicU64,
    filters: PathFilters,
    direct: bool,
    /// While unpacking into a stage ([`Unpacker::stage_into`]): the tree.
    base: Option<Tree>,
    /// The links the stage was given, by path, with their inodes.
    seeded: HashMap<PathBuf, u64>,
    /// The stage's own path in the tree.
    stage_at: Option<PathBuf>,
}

fn kind_name(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Regular | EntryKind::HardLink => "file",
        EntryKind::Directory => "directory",
        EntryKind::Symlink => "symlink",
        EntryKind::CharDevice => "character device",
        EntryKind::BlockDevice => "block device",
        EntryKind::Fifo => "fifo",
    }
}

impl Unpacker {
    /// Unpack into the existing directory `root`.
    pub fn new(
        root: &Path,
        ownership: Ownership,
        packages: Vec<PackageInfo>,
    ) -> Result<Unpacker, UnpackError> {
        let tree = Tree::open(root).map_err(|source| UnpackError::Root {
            root: root.to_owned(),
            source,
        })?;
        let n = packages.len();
        Ok(Unpacker {
            tree,
            ownership,
            packages,
            claims: Mutex::default(),
            lists: Mutex::new(vec![Vec::new(); n]),
            md5sums: Mutex::new(vec![None; n]),
            recorded: Mutex::default(),
            newest_mtime: std::sync::atomic::AtomicU64::new(0),
            filters: PathFilters::new(),
            direct: false,
            base: None,
            seeded: HashMap::new(),
            stage_at: None,
        })
    }

    /// Skip what `filters` exclude, as dpkg with the same
    /// `--path-exclude`/`--path-include` options (see the module
    /// documentation).
    pub fn with_filters(mut self, filters: PathFilters) -> Unpacker {
        self.filters = filters;
        self
    }

    /// Create entries whose path is free under their final name, without
    /// a temporary (see the module documentation): for a tree that is
    /// marked unfinished until the whole build ends.
    pub fn with_direct_writes(mut self, direct: bool) -> Unpacker {
        self.direct = direct;
        self
    }

    fn label(&self, i: usize) -> String {
        let p = &self.packages[i];
        format!("{}:{} {}", p.name, p.arch, p.version)
    }

    /// True if package `a` declares `Replaces` on package `b`.
    fn replaces(&self, a: usize, b: usize) -> bool {
        let (pa, pb) = (&self.packages[a], &self.packages[b]);
        let Ok(rels) = relation::parse(FieldKind::Replaces, &pa.replaces) else {
            return false;
        };
        let Ok(vb) = Version::parse(&pb.version) else {
            return false;
        };
        let hit = rels.iter().any(|r| {
            r.name == pb.name && r.version.as_ref().is_none_or(|(op, v)| op.holds(&vb, v))
        });
        hit
    }

    /// Unpack package `index`'s data archive.
    pub fn unpack(&self, index: usize, data: &mut DataArchive<'_>) -> Result<(), UnpackError> {
        let package = self.label(index);
        let conffiles: HashSet<&str> = self.packages[index]
            .conffiles
            .iter()
            .map(String::as_str)
            .collect();
        let mut list = Vec::new();
        let mut md5sums = (!self.packages[index].has_md5sums).then(String::new);
        let in_place = self.packages[index].conffiles_in_place;
        let mut dirs = DirCache::default();
        let mut filtered_dirs: HashSet<PathBuf> = HashSet::new();
        let entries = data.entries().map_err(|source| UnpackError::Deb {
            package: package.clone(),
            source,
        })?;
        let deb_err = |source| UnpackError::Deb {
            package: package.clone(),
            source,
        };
        for entry in entries {
            let mut entry = entry.map_err(deb_err)?;
            let meta = entry.meta().clone();
            self.newest_mtime
                .fetch_max(meta.mtime, std::sync::atomic::Ordering::Relaxed);
            if meta.path.as_os_str().is_empty() {
                entry.finish().map_err(deb_err)?;
                list.push(("/.".to_owned(), None));
                continue;
            }
            let shown = format!("/{}", meta.path.display());
            let fs = |what: &'static str| {
                let (package, path) = (package.clone(), shown.clone());
                move |source: io::Error| UnpackError::Fs {
                    package,
                    path,
                    what,
                    source,
                }
            };
            let parent_rel = meta.path.parent().unwrap_or(Path::new(""));
            let name = meta.path.file_name().expect("a non-empty normalized path");
            let dir_or_link = matches!(meta.kind, EntryKind::Directory | EntryKind::Symlink);
            if self.filters.skips(&shown, dir_or_link) {
                entry.finish().map_err(deb_err)?;
                self.filtered(index, &meta, &package, shown, &mut list, &mut filtered_dirs)?;
                continue;
            }
            if filtered_dirs.contains(parent_rel) && self.tree.open_path(parent_rel, true).is_err()
            {
                // dpkg creates no directory it filtered, and fails here.
                return Err(
                    fs("cannot create it: a path filter left out its directory")(
                        io::ErrorKind::NotFound.into(),
                    ),
                );
            }
            let (parent, canon_parent) = dirs
                .get(self, parent_rel)
                .map_err(fs("cannot open its directory in the tree"))?;
            let canon = canon_parent.join(name);
            let conffile = conffiles.contains(shown.as_str());
            let written = match meta.kind {
                EntryKind::Directory => {
                    entry.finish().map_err(deb_err)?;
                    self.directory(index, &parent, name, &meta, &canon, &package)?;
                    true
                }
                _ if !self.claim(index, &canon, &meta, &package, &shown)? => {
                    entry.finish().map_err(deb_err)?;
                    false
                }
                _ => {
                    let tmp = format!(".{}.{index}.rdebootstrap-tmp", name.to_string_lossy());
                    let copy = format!(".{}.{index}.rdebootstrap-conf", name.to_string_lossy());
                    let target_conffile = meta.kind == EntryKind::HardLink
                        && meta.link_target.as_deref().is_some_and(|t| {
                            conffiles.contains(format!("/{}", t.display()).as_str())
                        });
                    let step = Step {
                        index,
                        parent: &parent,
                        name,
                        canon: &canon,
                        meta: &meta,
                        package: &package,
                        shown: &shown,
                        tmp: &tmp,
                        copy: &copy,
                    };
                    let mut direct = None;
                    let result = self.write_entry(
                        &step,
                        &mut entry,
                        conffile,
                        conffile && in_place,
                        target_conffile,
                        md5sums.as_mut(),
                        &mut direct,
                    );
                    if result.is_err() {
                        // Nothing half-made stays in the tree.
                        for t in [&tmp, &copy] {
                            let _ = rustix::fs::unlinkat(&*parent, t.as_str(), AtFlags::empty());
                        }
                        if let Some(made) = direct {
                            let _ = rustix::fs::unlinkat(&*parent, &made, AtFlags::empty());
                        }
                    }
                    result?
                }
            };
            if written {
                list.push((shown, Some(canon)));
            }
        }
        self.lists.lock().expect("lists")[index] = list;
        self.md5sums.lock().expect("md5sums")[index] = md5sums;
        Ok(())
    }

    /// An entry the path filters skip: nothing is written, but the path is
    /// listed, as dpkg lists it. A non-directory is claimed all the same,
    /// so two packages shipping it conflict as they would unfiltered
    /// (dpkg checks before it filters), and a package that lost it to a
    /// `Replaces` does not list it.
    fn filtered(
        &self,
        index: usize,
        meta: &EntryMeta,
        package: &str,
        shown: String,
        list: &mut Vec<Listed>,
        filtered_dirs: &mut HashSet<PathBuf>,
    ) -> Result<(), UnpackError> {
        if meta.kind == EntryKind::Directory {
            filtered_dirs.insert(meta.path.clone());
            list.push((shown, None));
            return Ok(());
        }
        // Its directory may be filtered too: resolve what exists, create
        // nothing.
        let parent_rel = meta.path.parent().unwrap_or(Path::new(""));
        let name = meta.path.file_name().expect("a non-empty normalized path");
        let canon = match self.tree.open_path(parent_rel, true) {
            Ok(fd) => self.tree.canonical(&fd, parent_rel).join(name),
            Err(_) => meta.path.clone(),
        };
        if self.claim(index, &canon, meta, package, &shown)? {
            list.push((shown, Some(canon)));
        }
        Ok(())
    }

    /// Write a non-directory entry under its temporary name, read it to
    /// its end (and its padding: the archive is whole up to here), then
    /// give it its final name. The caller removes the temporaries if this
    /// fails.
    #[allow(clippy::too_many_arguments)]
    fn write_entry(
        &self,
        step: &Step<'_>,
        entry: &mut crate::deb::DataEntry<'_, '_>,
        conffile: bool,
        also_in_place: bool,
        target_conffile: bool,
        md5sums: Option<&mut String>,
        direct: &mut Option<std::ffi::OsString>,
    ) -> Result<bool, UnpackError> {
        let Step {
            index,
            parent,
            name,
            canon,
            meta,
            package,
            shown,
            tmp,
            copy,
        } = *step;
        let fs = |what: &'static str| {
            move |source: io::Error| UnpackError::Fs {
                package: package.to_owned(),
                path: shown.to_owned(),
                what,
                source,
            }
        };
        let deb_err = |source| UnpackError::Deb {
            package: package.to_owned(),
            source,
        };
        let final_name = if conffile {
            let mut n = name.to_owned();
            n.push(".dpkg-new");
            n
        } else {
            name.to_owned()
        };
        let hash = md5sums.is_some();
        // Under the final name when it is free (nothing is read from the
        // archive before the name is made, so a taken one costs nothing).
        let mut made = None;
        if self.direct {
            match self.create(
                parent,
                &final_name,
                meta,
                entry,
                canon,
                target_conffile,
                true,
                hash,
            ) {
                Ok(d) => made = Some(d),
                Err(Create::Fs(e)) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(Create::Archive(e)) => {
                    *direct = Some(final_name);
                    return Err(deb_err(entry.read_error(e)));
                }
                Err(Create::Fs(e)) => {
                    *direct = Some(final_name);
                    return Err(fs("cannot create it")(e));
                }
            }
            if made.is_some() {
                *direct = Some(final_name.clone());
            }
        }
        let in_place = made.is_some();
        let written = if in_place {
            final_name.as_os_str()
        } else {
            std::ffi::OsStr::new(tmp)
        };
        let digest = match made {
            Some(d) => d,
            None => {
                match self.create(
                    parent,
                    written,
                    meta,
                    entry,
                    canon,
                    target_conffile,
                    false,
                    hash,
                ) {
                    Ok(d) => d,
                    Err(Create::Archive(e)) => return Err(deb_err(entry.read_error(e))),
                    Err(Create::Fs(e)) => return Err(fs("cannot create it")(e)),
                }
            }
        };
        entry.finish().map_err(deb_err)?;
        if let (Some(sums), Some(d)) = (md5sums, digest) {
            use std::fmt::Write as _;
            let _ = writeln!(sums, "{d}  {}", meta.path.display());
        }
        if also_in_place && meta.kind == EntryKind::Regular {
            // Also at its own path, as an extracted essential package has
            // it before dpkg runs.
            self.copy_file(parent, written, copy, meta, canon)
                .map_err(fs("cannot create it"))?;
            self.commit(index, parent, copy, name, canon, meta, package, shown)?;
        }
        if in_place {
            // In place already; a package that replaces this one renames
            // its copy over it.
            return Ok(true);
        }
        self.commit(index, parent, tmp, &final_name, canon, meta, package, shown)
    }

    /// Directories are shared: an existing one (or a symlink to one, as
    /// `bin -> usr/bin`) is kept as it is, as dpkg keeps it.
    fn directory(
        &self,
        index: usize,
        parent: &OwnedFd,
        name: &std::ffi::OsStr,
        meta: &EntryMeta,
        canon: &Path,
        package: &str,
    ) -> Result<(), UnpackError> {
        let shown = format!("/{}", meta.path.display());
        let fs = |what: &'static str| {
            let (package, path) = (package.to_owned(), shown.clone());
            move |source: io::Error| UnpackError::Fs {
                package,
                path,
                what,
                source,
            }
        };
        match self.tree.open_path(&meta.path, true) {
            Ok(_) => return Ok(()),
            Err(e) if e == rustix::io::Errno::NOENT => {}
            Err(e) if e == rustix::io::Errno::NOTDIR => {
                return Err(UnpackError::KindClash {
                    package: package.to_owned(),
                    path: shown,
                    new: "directory",
                    existing: "file",
                })
            }
            Err(e) => return Err(fs("cannot look it up")(e.into())),
        }
        // Made under a temporary name with its metadata, then renamed in:
        // another package's entries can only go into it once it has its
        // final owner, mode and time, so a child made meanwhile cannot
        // have its time overwritten (which would depend on timing).
        let tmp = format!(".{}.{index}.rdebootstrap-tmp", name.to_string_lossy());
        let rmdir = |n: &str| {
            let _ = rustix::fs::unlinkat(parent, n, AtFlags::REMOVEDIR);
        };
        // Where that cannot be, made in place (the old race, not worse).
        let in_place = || -> Result<bool, UnpackError> {
            match rustix::fs::mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
                Ok(()) => match self.apply_meta_at(parent, name, meta) {
                    Ok(()) => Ok(true),
                    Err(e) => {
                        let _ = rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR);
                        Err(fs("cannot set its owner, mode or time")(e))
                    }
                },
                Err(e) if e == rustix::io::Errno::EXIST => Ok(false),
                Err(e) => Err(fs("cannot create the directory")(e.into())),
            }
        };
        let made = match rustix::fs::mkdirat(parent, tmp.as_str(), Mode::from_bits_truncate(0o700))
        {
            Ok(()) => {
                if let Err(e) = self.apply_meta_at(parent, tmp.as_ref(), meta) {
                    rmdir(&tmp);
                    return Err(fs("cannot set its owner, mode or time")(e));
                }
                match rustix::fs::renameat_with(
                    parent,
                    tmp.as_str(),
                    parent,
                    name,
                    rustix::fs::RenameFlags::NOREPLACE,
                ) {
                    Ok(()) => true,
                    // Another package made it meanwhile: shared, with its
                    // metadata.
                    Err(e) if e == rustix::io::Errno::EXIST => {
                        rmdir(&tmp);
                        false
                    }
                    // No RENAME_NOREPLACE here (NFS; a seccomp filter).
                    Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
                        rmdir(&tmp);
                        in_place()?
                    }
                    Err(e) => {
                        rmdir(&tmp);
                        return Err(fs("cannot move it into place")(e.into()));
                    }
                }
            }
            // A name too long for the temporary's suffix.
            Err(e) if e == rustix::io::Errno::NAMETOOLONG => in_place()?,
            Err(e) => return Err(fs("cannot create the directory")(e.into())),
        };
        if !made {
            return Ok(());
        }
        if self.ownership == Ownership::Record {
            let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fs("cannot look it up")(e.into()))?;
            self.record(meta, canon, st.st_ino);
        }
        Ok(())
    }

    /// Decide whether `index` may write `canon`; false means another
    /// package that replaces it owns the path.
    fn claim(
        &self,
        index: usize,
        canon: &Path,
        meta: &EntryMeta,
        package: &str,
        shown: &str,
    ) -> Result<bool, UnpackError> {
        let mut claims = self.claims.lock().expect("claims");
        let mine = Claim {
            owner: index,
            kind: meta.kind,
            link: meta.link_target.clone(),
        };
        let Some(old) = claims.get(canon) else {
            claims.insert(canon.to_owned(), mine);
            return Ok(true);
        };
        if old.owner == index {
            return Ok(true);
        }
        let same_symlink = old.kind == EntryKind::Symlink
            && meta.kind == EntryKind::Symlink
            && old.link == meta.link_target;
        if self.replaces(index, old.owner) || (same_symlink && index > old.owner) {
            claims.insert(canon.to_owned(), mine);
            Ok(true)
        } else if self.replaces(old.owner, index) || same_symlink {
            Ok(false)
        } else {
            Err(UnpackError::Conflict {
                package: package.to_owned(),
                path: shown.to_owned(),
                other: self.label(old.owner),
            })
        }
    }

    /// Rename the temporary into place if `index` still owns the path
    /// (decided under the claims lock, so the owner's copy always wins).
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        index: usize,
        parent: &OwnedFd,
        tmp: &str,
        final_name: &std::ffi::OsStr,
        canon: &Path,
        meta: &EntryMeta,
        package: &str,
        shown: &str,
    ) -> Result<bool, UnpackError> {
        let claims = self.claims.lock().expect("claims");
        let owner = claims.get(canon).map(|c| c.owner);
        if owner != Some(index) {
            let _ = rustix::fs::unlinkat(parent, tmp, AtFlags::empty());
            return Ok(false);
        }
        if let Ok(st) = rustix::fs::statat(parent, final_name, AtFlags::SYMLINK_NOFOLLOW) {
            if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory {
                let _ = rustix::fs::unlinkat(parent, tmp, AtFlags::empty());
                return Err(UnpackError::KindClash {
                    package: package.to_owned(),
                    path: shown.to_owned(),
                    new: kind_name(meta.kind),
                    existing: "directory",
                });
            }
        }
        rustix::fs::renameat(parent, tmp, parent, final_name).map_err(|e| UnpackError::Fs {
            package: package.to_owned(),
            path: shown.to_owned(),
            what: "cannot move it into place",
            source: e.into(),
        })?;
        Ok(true)
    }

    /// Create a non-directory entry under the name `tmp`: a temporary
    /// (replaced if left over), or with `exclusive` the final name, which
    /// must be free (an `AlreadyExists` error, before anything is read,
    /// when it is not).
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        parent: &OwnedFd,
        tmp: &std::ffi::OsStr,
        meta: &EntryMeta,
        contents: &mut dyn io::Read,
        canon: &Path,
        target_conffile: bool,
        exclusive: bool,
        hash: bool,
    ) -> Result<Option<String>, Create> {
        if !exclusive {
            let _ = rustix::fs::unlinkat(parent, tmp, AtFlags::empty());
        }
        let mut digest = None;
        let apply = self.ownership == Ownership::Apply;
        match meta.kind {
            EntryKind::Regular => {
                let fd = new_file(parent, tmp)?;
                let mut file = Md5Writer::new(std::fs::File::from(fd), hash);
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match contents.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Create::Archive(e)),
                    };
                    io::Write::write_all(&mut file, &buf[..n])?;
                }
                let (file, md5) = file.finish();
                digest = md5;
                self.set_meta_fd(file.as_fd(), meta, canon)?;
            }
            EntryKind::Symlink => {
                let target = meta.link_target.as_deref().unwrap_or(Path::new(""));
                rustix::fs::symlinkat(target, parent, tmp)?;
                if apply {
                    chown_at(parent, tmp, meta)?;
                }
                rustix::fs::utimensat(parent, tmp, &times(meta), AtFlags::SYMLINK_NOFOLLOW)?;
            }
            EntryKind::HardLink => {
                let target = meta.link_target.as_deref().unwrap_or(Path::new(""));
                let tparent = self
                    .tree
                    .open_path(target.parent().unwrap_or(Path::new("")), true)?;
                let mut tname = target.file_name().unwrap_or_default().to_owned();
                if target_conffile {
                    // Its file is still staged, as dpkg links it then.
                    tname.push(".dpkg-new");
                }
                rustix::fs::linkat(&tparent, &tname, parent, tmp, AtFlags::empty())?;
            }
            EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo if apply => {
                let ft = match meta.kind {
                    EntryKind::CharDevice => rustix::fs::FileType::CharacterDevice,
                    EntryKind::BlockDevice => rustix::fs::FileType::BlockDevice,
                    _ => rustix::fs::FileType::Fifo,
                };
                let (major, minor) = meta.device.unwrap_or((0, 0));
                let dev = rustix::fs::makedev(major, minor);
                rustix::fs::mknodat(parent, tmp, ft, Mode::from_bits_truncate(0o600), dev)?;
                self.set_meta_at(parent, tmp, meta, canon)?;
            }
            EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo => {
                // Rootless: a placeholder; the node is recorded.
                let fd = new_file(parent, tmp)?;
                self.set_meta_fd(fd.as_fd(), meta, canon)?;
            }
            EntryKind::Directory => unreachable!("directories are made by Unpacker::directory"),
        }
        Ok(digest)
    }

    /// Copy the file `from` to the new file `to` in `parent`, with `meta`.
    fn copy_file(
        &self,
        parent: &OwnedFd,
        from: &std::ffi::OsStr,
        to: &str,
        meta: &EntryMeta,
        canon: &Path,
    ) -> io::Result<()> {
        let src = rustix::fs::openat(
            parent,
            from,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let _ = rustix::fs::unlinkat(parent, to, AtFlags::empty());
        let mut dst = std::fs::File::from(new_file(parent, to)?);
        io::copy(&mut std::fs::File::from(src), &mut dst)?;
        self.set_meta_fd(dst.as_fd(), meta, canon)
    }

    /// Owner (as root), mode, xattrs (as root) and mtime of an open file.
    fn set_meta_fd(
        &self,
        fd: std::os::fd::BorrowedFd<'_>,
        meta: &EntryMeta,
        canon: &Path,
    ) -> io::Result<()> {
        if self.ownership == Ownership::Apply {
            rustix::fs::fchown(fd, Some(uid(meta.uid)), Some(gid(meta.gid)))?;
        }
        // After chown, which clears setuid/setgid.
        rustix::fs::fchmod(fd, Mode::from_bits_truncate(meta.mode & 0o7777))?;
        if self.ownership == Ownership::Apply {
            for (name, value) in &meta.xattrs {
                rustix::fs::fsetxattr(fd, name.as_str(), value, rustix::fs::XattrFlags::empty())?;
            }
        }
        rustix::fs::futimens(fd, &times(meta))?;
        if self.ownership == Ownership::Record {
            self.record(meta, canon, rustix::fs::fstat(fd)?.st_ino);
        }
        Ok(())
    }

    /// The same through the parent directory (directories, device nodes).
    fn set_meta_at(
        &self,
        parent: &OwnedFd,
        name: &std::ffi::OsStr,
        meta: &EntryMeta,
        canon: &Path,
    ) -> io::Result<()> {
        self.apply_meta_at(parent, name, meta)?;
        if self.ownership == Ownership::Record {
            let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
            self.record(meta, canon, st.st_ino);
        }
        Ok(())
    }

    /// Owner (as root), mode and time through the parent directory,
    /// nothing recorded.
    fn apply_meta_at(
        &self,
        parent: &OwnedFd,
        name: &std::ffi::OsStr,
        meta: &EntryMeta,
    ) -> io::Result<()> {
        if self.ownership == Ownership::Apply {
            chown_at(parent, name, meta)?;
        }
        rustix::fs::chmodat(
            parent,
            name,
            Mode::from_bits_truncate(meta.mode & 0o7777),
            AtFlags::empty(),
        )?;
        Ok(rustix::fs::utimensat(
            parent,
            name,
            &times(meta),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Rootless: remember what could not be applied.
    fn record(&self, meta: &EntryMeta, canon: &Path, inode: u64) {
        let special = matches!(
            meta.kind,
            EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo
        );
        if meta.uid != 0 || meta.gid != 0 || special || !meta.xattrs.is_empty() {
            self.recorded.lock().expect("recorded").push(Recorded {
                path: canon.to_owned(),
                kind: meta.kind,
                mode: meta.mode & 0o7777,
                uid: meta.uid,
                gid: meta.gid,
                device: meta.device,
                xattrs: meta.xattrs.clone(),
                inode,
            });
        }
    }

    /// Everything unpacked: the lists (without files another package
    /// took over) and, rootless, the recorded metadata.
    pub fn finish(self) -> Unpacked {
        self.snapshot()
    }

    /// What [`Unpacker::finish`] would return now: for the packages
    /// unpacked so far, while others are still to come.
    pub fn snapshot(&self) -> Unpacked {
        let claims = self.claims.lock().expect("claims");
        let lists = self
            .lists
            .lock()
            .expect("lists")
            .iter()
            .enumerate()
            .map(|(i, list)| {
                list.iter()
                    .filter(|(_, canon)| {
                        canon
                            .as_ref()
                            .and_then(|c| claims.get(c))
                            .is_none_or(|c| c.owner == i)
                    })
                    .map(|(shown, _)| shown.clone())
                    .collect()
            })
            .collect();
        let md5sums = self.md5sums.lock().expect("md5sums").clone();
        // The last record of a path: a package that replaced another's
        // file wrote it after that package did.
        let mut recorded = self.recorded.lock().expect("recorded").clone();
        recorded.reverse();
        recorded.sort_by(|a, b| a.path.cmp(&b.path));
        recorded.dedup_by(|a, b| a.path == b.path);
        Unpacked {
            lists,
            md5sums,
            recorded,
            newest_mtime: self.newest_mtime.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Why creating an entry failed: reading the archive, or writing the tree.
enum Create {
    Archive(io::Error),
    Fs(io::Error),
}

impl From<io::Error> for Create {
    fn from(e: io::Error) -> Self {
        Create::Fs(e)
    }
}

impl From<rustix::io::Errno> for Create {
    fn from(e: rustix::io::Errno) -> Self {
        Create::Fs(e.into())
    }
}

/// Where one non-directory entry goes.
#[derive(Clone, Copy)]
struct Step<'s> {
    index: usize,
    parent: &'s OwnedFd,
    name: &'s std::ffi::OsStr,
    canon: &'s Path,
    meta: &'s EntryMeta,
    package: &'s str,
    shown: &'s str,
    tmp: &'s str,
    copy: &'s str,
}

/// Open parent directories of one package's entries, by their path in the
/// archive (entries of one directory come together).
#[derive(Default)]
struct DirCache {
    dirs: HashMap<PathBuf, (std::sync::Arc<OwnedFd>, PathBuf)>,
}

impl DirCache {
    fn get(&mut self, u: &Unpacker, rel: &Path) -> io::Result<(std::sync::Arc<OwnedFd>, PathBuf)> {
        if let Some(d) = self.dirs.get(rel) {
            return Ok(d.clone());
        }
        let fd = u.tree.make_dirs(rel)?;
        let canon = u.tree.canonical(&fd, rel);
        let entry = (std::sync::Arc::new(fd), canon);
        self.dirs.insert(rel.to_owned(), entry.clone());
        Ok(entry)
    }
}

/// Create `tmp` in `parent`: a new, private, regular file.
fn new_file(parent: &OwnedFd, tmp: impl rustix::path::Arg) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        parent,
        tmp,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?)
}

fn uid(raw: u64) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(raw as u32)
}

fn gid(raw: u64) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(raw as u32)
}

fn chown_at(parent: &OwnedFd, name: impl rustix::path::Arg, meta: &EntryMeta) -> io::Result<()> {
    rustix::fs::chownat(
        parent,
        name,
        Some(uid(meta.uid)),
        Some(gid(meta.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

fn times(meta: &EntryMeta) -> Timestamps {
    let t = rustix::fs::Timespec {
        tv_sec: meta.mtime as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Writes through, hashing with MD5 (dpkg's `md5sums` digest).
struct Md5Writer {
    file: std::fs::File,
    /// Only for a package without `md5sums`: hashing every file costs as
    /// much as decompressing it.
    md5: Option<md5::Md5>,
}

impl Md5Writer {
    fn new(file: std::fs::File, hash: bool) -> Self {
        Md5Writer {
            file,
            md5: hash.then(md5::Digest::new),
        }
    }

    fn finish(self) -> (std::fs::File, Option<String>) {
        let d = self.md5.map(|m| {
            md5::Digest::finalize(m)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
        (self.file, d)
    }
}

impl io::Write for Md5Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(m) = &mut self.md5 {
            md5::Digest::update(m, &buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
