//! A root directory that every path is resolved inside of.
//!
//! All lookups go through `openat2(RESOLVE_IN_ROOT)`: `..`, absolute
//! symlinks and symlinks planted in the tree are resolved as if the tree
//! were `/`, so nothing reached through a [`Tree`] is ever outside it.
//! Files are written under a temporary name and renamed into place, or,
//! where the caller says the file is new, straight under their name.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

/// An open root directory.
#[derive(Debug)]
pub struct Tree {
    root: OwnedFd,
    /// The root's canonical path, to map resolved paths back to the tree.
    path: PathBuf,
}

impl Tree {
    /// Open the existing directory `root`.
    pub fn open(root: &Path) -> io::Result<Tree> {
        let path = root.canonicalize()?;
        let fd = rustix::fs::open(
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Tree { root: fd, path })
    }

    /// The root's canonical path on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open `rel` (relative to the root, `""` for the root) resolved inside
    /// the root, as an `O_PATH` handle; `dir` demands a directory.
    pub fn open_path(&self, rel: &Path, dir: bool) -> rustix::io::Result<OwnedFd> {
        let mut flags = OFlags::PATH | OFlags::CLOEXEC;
        if dir {
            flags |= OFlags::DIRECTORY;
        }
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        rustix::fs::openat2(
            &self.root,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// The content of the regular file `rel`, resolved inside the root; at
    /// most `limit` bytes (a larger file is an error).
    pub fn read(&self, rel: &Path, limit: u64) -> io::Result<Vec<u8>> {
        use std::io::Read as _;
        let fd = rustix::fs::openat2(
            &self.root,
            rel,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        let mut data = Vec::new();
        std::fs::File::from(fd)
            .take(limit + 1)
            .read_to_end(&mut data)?;
        if data.len() as u64 > limit {
            return Err(io::Error::other(format!(
                "{}: larger than {limit} bytes",
                rel.display()
            )));
        }
        Ok(data)
    }

    /// Open directory `rel`, creating what is missing of it (mode 0755, as
    /// tar would).
    pub fn make_dirs(&self, rel: &Path) -> rustix::io::Result<OwnedFd> {
        match self.open_path(rel, true) {
            Err(e) if e == rustix::io::Errno::NOENT => {
                let parent = rel.parent().unwrap_or(Path::new(""));
                let pfd = self.make_dirs(parent)?;
                let name = rel.file_name().unwrap_or_default();
                match rustix::fs::mkdirat(&pfd, name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) => rustix::fs::chmodat(
                        &pfd,
                        name,
                        Mode::from_bits_truncate(0o755),
                        AtFlags::empty(),
                    )?,
                    Err(e) if e == rustix::io::Errno::EXIST => {}
                    Err(e) => return Err(e),
                }
                self.open_path(rel, true)
            }
            other => other,
        }
    }

    /// The path of an open handle relative to the root, as the kernel
    /// resolved it (`fallback` where `/proc` cannot tell).
    pub fn canonical(&self, fd: &OwnedFd, fallback: &Path) -> PathBuf {
        let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd));
        std::fs::read_link(link)
            .ok()
            .and_then(|p| p.strip_prefix(&self.path).ok().map(Path::to_owned))
            .unwrap_or_else(|| fallback.to_owned())
    }

    /// Write `data` to `rel` with `mode` (root-owned when run as root),
    /// atomically, creating missing directories.
    pub fn write_file(&self, rel: &Path, data: &[u8], mode: u32) -> io::Result<()> {
        let (dir, name) = self.dir_and_name(rel)?;
        let tmp = format!(".{}.rdebootstrap-tmp", name.to_string_lossy());
        let tmp = std::ffi::OsStr::new(&tmp);
        let _ = rustix::fs::unlinkat(&dir, tmp, AtFlags::empty());
        create_in(&dir, tmp, data, mode)?;
        let renamed = rustix::fs::renameat(&dir, tmp, &dir, name);
        if renamed.is_err() {
            // No temporary left behind in the tree.
            let _ = rustix::fs::unlinkat(&dir, tmp, AtFlags::empty());
        }
        Ok(renamed?)
    }

    /// Write `data` to `rel` with `mode` like [`Tree::write_file`], but
    /// straight under its name when nothing is there yet (no temporary and
    /// no rename: a new tree's database files, whose atomicity is the
    /// build's). A file that is there already (a package may ship one) is
    /// replaced through [`Tree::write_file`]; a failed write removes what
    /// it created.
    pub fn write_new_file(&self, rel: &Path, data: &[u8], mode: u32) -> io::Result<()> {
        let (dir, name) = self.dir_and_name(rel)?;
        match create_in(&dir, name, data, mode) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.write_file(rel, data, mode),
            other => other,
        }
    }

    /// The directory of `rel`, made if missing, and `rel`'s file name.
    fn dir_and_name<'r>(&self, rel: &'r Path) -> io::Result<(OwnedFd, &'r std::ffi::OsStr)> {
        let dir = self.make_dirs(rel.parent().unwrap_or(Path::new("")))?;
        let name = rel
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        Ok((dir, name))
    }

    /// Remove the file `rel` if it is there.
    pub fn remove_file(&self, rel: &Path) -> io::Result<()> {
        let dir = match self.open_path(rel.parent().unwrap_or(Path::new("")), true) {
            Ok(d) => d,
            Err(e) if e == rustix::io::Errno::NOENT => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let name = rel.file_name().unwrap_or_default();
        match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
            Err(e) if e != rustix::io::Errno::NOENT => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// True if `rel` exists (not following a final symlink).
    pub fn exists(&self, rel: &Path) -> bool {
        self.lstat(rel).is_ok()
    }

    /// The metadata of `rel`, not following a final symlink.
    pub fn lstat(&self, rel: &Path) -> io::Result<rustix::fs::Stat> {
        let dir = self.open_path(rel.parent().unwrap_or(Path::new("")), true)?;
        Ok(rustix::fs::statat(
            &dir,
            rel.file_name().unwrap_or_default(),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Remove the directory `rel` and everything in it, if it is there
    /// (symlinks inside are removed, never followed).
    pub fn remove_dir_all(&self, rel: &Path) -> io::Result<()> {
        let dir = match self.open_path(rel.parent().unwrap_or(Path::new("")), true) {
            Ok(d) => d,
            Err(e) if e == rustix::io::Errno::NOENT => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // The parent as the kernel resolved it inside the root, then the
        // last component, which remove_dir_all does not follow.
        let path = Path::new("/proc/self/fd")
            .join(std::os::fd::AsRawFd::as_raw_fd(&dir).to_string())
            .join(rel.file_name().unwrap_or_default());
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Create `name` in `dir` (not there yet, never through a symlink) with
/// `data` and `mode`; removed again if writing fails.
fn create_in(dir: &OwnedFd, name: &std::ffi::OsStr, data: &[u8], mode: u32) -> io::Result<()> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut file = std::fs::File::from(fd);
    let written = io::Write::write_all(&mut file, data).and_then(|()| {
        Ok(rustix::fs::fchmod(
            file.as_fd(),
            Mode::from_bits_truncate(mode),
        )?)
    });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_file_is_written_in_place_and_an_existing_one_replaced_not_followed() {
        let t = testkit::TempDir::new("tree-write-new");
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let outside = t.path().join("outside");
        std::fs::write(&outside, "host").unwrap();
        let tree = Tree::open(&root).unwrap();

        tree.write_new_file(Path::new("a/b/new"), b"one", 0o644)
            .unwrap();
        let new = root.join("a/b/new");
        assert_eq!(std::fs::read(&new).unwrap(), b"one");
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o644);

        // There already: replaced with the new bytes and mode.
        tree.write_new_file(Path::new("a/b/new"), b"two", 0o600)
            .unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"two");
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600);

        // A symlink planted at the name is replaced, never written through.
        std::os::unix::fs::symlink(&outside, root.join("a/b/link")).unwrap();
        tree.write_new_file(Path::new("a/b/link"), b"tree", 0o644)
            .unwrap();
        assert_eq!(std::fs::read(&outside).unwrap(), b"host");
        assert!(!std::fs::symlink_metadata(root.join("a/b/link"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(root.join("a/b/link")).unwrap(), b"tree");
        // No temporary left.
        let names: Vec<_> = std::fs::read_dir(root.join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains("rdebootstrap-tmp")),
            "{names:?}"
        );
    }
}
