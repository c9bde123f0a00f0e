//! Unpacking into a stage beside the tree, then merging the stage in.
//!
//! A build configures the essential set while the other packages are
//! unpacked (see [`crate::build::unpack`]). Those packages must not appear
//! in the tree while the essential set's scripts run there, file by file:
//! what a script saw would depend on timing. So they are unpacked into a
//! stage, a directory the scripts cannot see, and merged into the tree
//! once the scripts are done. The stage is in the tree's own file system,
//! so the merge is renames: a directory the tree lacks moves whole.
//!
//! Paths resolve in the stage as in the tree: before the first entry, the
//! stage gets the tree's directory links that packages unpacked so far
//! shipped (`bin -> usr/bin`, ...), with the directories they lead to.
//! Who owns a path is still decided by the one [`Unpacker`]'s claims, so
//! conflicts and `Replaces` between a staged package and an earlier one
//! are decided as if both were unpacked into the tree.
//!
//! The merge walks the stage. An entry the tree lacks is renamed in; a
//! directory the tree has (or reaches through a link, as dpkg follows
//! one) is merged into, keeping the tree's metadata, as the first package
//! to make a shared directory decides it (rootless, what was recorded for
//! the staged copy is dropped); any other entry replaces the
//! tree's (the claims gave it to the staged package, or a script made
//! it, which dpkg would overwrite too). A directory where the tree has a
//! file, or the reverse, is refused as the unpacker refuses it, and so is
//! a directory that a link a script made leads into the stage. The links
//! the stage was given are left out.

use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::{kind_name, UnpackError, Unpacker};
use crate::deb::EntryKind;
use crate::tree::Tree;

impl Unpacker {
    /// Unpack what follows into `stage` (an existing, empty directory in
    /// the tree's file system), given the tree's directory links first,
    /// until [`Unpacker::merge_stage`]. On an error, the unpacker still
    /// unpacks into the tree (the stage may hold some of the links).
    pub fn stage_into(&mut self, stage: &Path) -> Result<(), UnpackError> {
        let failed = |what: &'static str, path: &Path| {
            let path = format!("/{}", path.display());
            move |source: io::Error| UnpackError::Fs {
                package: "(stage)".into(),
                path,
                what,
                source,
            }
        };
        let staged = Tree::open(stage).map_err(|source| UnpackError::Root {
            root: stage.to_owned(),
            source,
        })?;
        // The links' directories are found through /proc (a chroot may
        // have none): without it, nothing is staged.
        let root = self.tree.open_path(Path::new(""), true);
        if root.map(|fd| self.tree.canonical(&fd, Path::new("/"))) != Ok(PathBuf::new()) {
            return Err(UnpackError::Root {
                root: stage.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::Unsupported,
                    "/proc cannot tell where the tree's links lead",
                ),
            });
        }
        self.seeded.clear();
        // The links that lead to a directory in the tree, parents first.
        let mut links: Vec<(PathBuf, PathBuf, PathBuf)> = Vec::new();
        for (canon, claim) in self.claims.lock().expect("claims").iter() {
            let (EntryKind::Symlink, Some(target)) = (claim.kind, &claim.link) else {
                continue;
            };
            if let Ok(fd) = self.tree.open_path(canon, true) {
                let to = self.tree.canonical(&fd, canon);
                links.push((canon.clone(), target.clone(), to));
            }
        }
        links.sort();
        for (canon, target, to) in links {
            staged
                .make_dirs(&to)
                .map_err(|e| failed("cannot make the stage's directory", &to)(e.into()))?;
            let parent = canon.parent().unwrap_or(Path::new(""));
            let name = canon.file_name().unwrap_or_default();
            let fd = staged
                .make_dirs(parent)
                .map_err(|e| failed("cannot make the stage's directory", parent)(e.into()))?;
            let link = || -> rustix::io::Result<u64> {
                rustix::fs::symlinkat(&target, &fd, name)?;
                Ok(rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)?.st_ino)
            };
            let inode =
                link().map_err(|e| failed("cannot link it in the stage", &canon)(e.into()))?;
            self.seeded.insert(canon, inode);
        }
        self.stage_at = staged
            .path()
            .strip_prefix(self.tree.path())
            .ok()
            .map(Path::to_owned);
        self.base = Some(std::mem::replace(&mut self.tree, staged));
        Ok(())
    }

    /// Merge the stage into the tree (see the module documentation) and
    /// unpack into the tree again. The stage is left with the links and
    /// directories [`Unpacker::stage_into`] gave it.
    pub fn merge_stage(&mut self) -> Result<(), UnpackError> {
        let Some(base) = self.base.take() else {
            return Ok(());
        };
        let staged = std::mem::replace(&mut self.tree, base);
        self.merge_dir(&staged, Path::new(""))
    }

    fn merge_dir(&self, staged: &Tree, rel: &Path) -> Result<(), UnpackError> {
        let fs = |what: &'static str, path: &Path| {
            let package = self.owner_label(path, true);
            let path = format!("/{}", path.display());
            move |source: io::Error| UnpackError::Fs {
                package,
                path,
                what,
                source,
            }
        };
        let from = staged
            .open_path(rel, true)
            .and_then(|d| {
                rustix::fs::openat(
                    &d,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            })
            .map_err(|e| fs("cannot read the stage's directory", rel)(e.into()))?;
        let to = self
            .tree
            .open_path(rel, true)
            .map_err(|e| fs("cannot open its directory in the tree", rel)(e.into()))?;
        // A link a script made (`/var/x -> /tmp`) could lead the merge
        // into the stage, which is removed after it.
        if let Some(stage) = &self.stage_at {
            if self.tree.canonical(&to, rel).starts_with(stage) {
                return Err(UnpackError::LinkIntoStage {
                    package: self.owner_label(rel, true),
                    path: format!("/{}", rel.display()),
                });
            }
        }
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&from)
            .map_err(|e| fs("cannot read the stage's directory", rel)(e.into()))?
        {
            let entry =
                entry.map_err(|e| fs("cannot read the stage's directory", rel)(e.into()))?;
            let name = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                names.push(name.to_owned());
            }
        }
        // In name order: the same tree gives the same first error.
        names.sort();
        for name in names {
            let path = rel.join(&name);
            let st = rustix::fs::statat(&from, &name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fs("cannot look it up in the stage", &path)(e.into()))?;
            let kind = FileType::from_raw_mode(st.st_mode);
            if self.stage_at.as_deref() == Some(path.as_path()) {
                // Merged, it would be lost with the stage.
                return Err(UnpackError::InStage {
                    package: self.owner_label(&path, true),
                    path: format!("/{}", path.display()),
                });
            }
            if kind == FileType::Symlink && self.seeded.get(&path) == Some(&st.st_ino) {
                continue;
            }
            let there = match rustix::fs::statat(&to, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(t) => Some(FileType::from_raw_mode(t.st_mode)),
                Err(e) if e == rustix::io::Errno::NOENT => None,
                Err(e) => return Err(fs("cannot look it up in the tree", &path)(e.into())),
            };
            let clash = |new: &'static str, existing: &'static str| UnpackError::KindClash {
                package: self.owner_label(&path, new == "directory"),
                path: format!("/{}", path.display()),
                new,
                existing,
            };
            match (kind == FileType::Directory, there) {
                (_, None) => rustix::fs::renameat(&from, &name, &to, &name)
                    .map_err(|e| fs("cannot move it into the tree", &path)(e.into()))?,
                (true, Some(FileType::Directory)) => {
                    self.forget_record(st.st_ino);
                    self.merge_dir(staged, &path)?
                }
                (true, Some(FileType::Symlink)) if self.tree.open_path(&path, true).is_ok() => {
                    self.forget_record(st.st_ino);
                    self.merge_dir(staged, &path)?
                }
                (true, Some(_)) => return Err(clash("directory", "file")),
                (false, Some(FileType::Directory)) => {
                    return Err(clash(kind_name(entry_kind(kind)), "directory"))
                }
                (false, Some(_)) => rustix::fs::renameat(&from, &name, &to, &name)
                    .map_err(|e| fs("cannot move it into the tree", &path)(e.into()))?,
            }
        }
        Ok(())
    }

    /// Rootless: a staged directory merged into the tree's keeps the
    /// tree's metadata, so what was recorded for it (by its inode, which
    /// is the stage's) no longer applies.
    fn forget_record(&self, inode: u64) {
        if self.ownership == super::Ownership::Record {
            self.recorded
                .lock()
                .expect("recorded")
                .retain(|r| r.inode != inode);
        }
    }

    /// The package that put `path` (resolved) in the stage, for an error:
    /// a file's claim, or the last package that lists it (a directory;
    /// the staged packages come after the others).
    fn owner_label(&self, path: &Path, dir: bool) -> String {
        if !dir {
            if let Some(c) = self.claims.lock().expect("claims").get(path) {
                return self.label(c.owner);
            }
        }
        let lists = self.lists.lock().expect("lists");
        lists
            .iter()
            .rposition(|l| l.iter().any(|(_, canon)| canon.as_deref() == Some(path)))
            .map(|i| self.label(i))
            .unwrap_or_else(|| "(stage)".into())
    }
}

/// The entry kind a staged file has, for an error.
fn entry_kind(t: FileType) -> EntryKind {
    match t {
        FileType::Directory => EntryKind::Directory,
        FileType::Symlink => EntryKind::Symlink,
        FileType::CharacterDevice => EntryKind::CharDevice,
        FileType::BlockDevice => EntryKind::BlockDevice,
        FileType::Fifo => EntryKind::Fifo,
        _ => EntryKind::Regular,
    }
}
