//! What a tree built without root could not hold, kept beside it in
//! `var/lib/rdebootstrap/ownership`, so that a tar or OCI output made
//! later can restore it.
//!
//! Built by an unprivileged user, a tree lacks:
//! - with subordinate ids: device nodes and fifos only (the packages'
//!   owners are given inside the sandbox, where those ids exist);
//! - without: also every owner other than root, from the packages and
//!   from the maintainer scripts (`chown root:shadow /etc/shadow`, which
//!   the sandbox intercepts and reports), and extended attributes such as
//!   `security.capability`.
//!
//! # Format
//! JSON lines. The first is the header `{"format":"rdebootstrap-ownership",
//! "version":1}`; then one object per path, sorted by path:
//! `{"path":"/etc/shadow","type":"file","mode":"0640","uid":0,"gid":42}`,
//! with `"device":[major,minor]` for device nodes (which are empty regular
//! files in the tree) and `"xattrs":{"name":"base64 value"}` when there
//! are any. `mode` is the octal permission bits. Paths are absolute inside
//! the tree. A path not listed is owned by root, with the mode and type
//! the tree has. Without root nothing is listed and the file is absent.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::deb::EntryKind;
use crate::sandbox::{Chown, Owner, Users};
use crate::tree::Tree;
use crate::unpack::Recorded;

/// Where the file is, relative to the tree's root.
pub const FILE: &str = "var/lib/rdebootstrap/ownership";

/// The format version this release writes and reads.
pub const VERSION: u32 = 1;

/// The type of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Char,
    Block,
    Fifo,
}

/// The true metadata of one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(with = "octal")]
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<(u32, u32)>,
    /// Values base64-encoded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

const FORMAT: &str = "rdebootstrap-ownership";

mod octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{mode:04o}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = String::deserialize(d)?;
        u32::from_str_radix(&text, 8).map_err(serde::de::Error::custom)
    }
}

/// Reading the file failed.
#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    #[error("{path}: cannot read it")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: not an ownership entry")]
    Syntax {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: format {found:?}, this release reads {FORMAT} version {VERSION}: use the rdebootstrap that built the tree")]
    Version { path: PathBuf, found: String },
}

impl Kind {
    fn of_entry(kind: EntryKind) -> Kind {
        match kind {
            EntryKind::Regular | EntryKind::HardLink => Kind::File,
            EntryKind::Directory => Kind::Dir,
            EntryKind::Symlink => Kind::Symlink,
            EntryKind::CharDevice => Kind::Char,
            EntryKind::BlockDevice => Kind::Block,
            EntryKind::Fifo => Kind::Fifo,
        }
    }

    fn of_stat(mode: u32) -> Kind {
        match rustix::fs::FileType::from_raw_mode(mode) {
            rustix::fs::FileType::Directory => Kind::Dir,
            rustix::fs::FileType::Symlink => Kind::Symlink,
            rustix::fs::FileType::CharacterDevice => Kind::Char,
            rustix::fs::FileType::BlockDevice => Kind::Block,
            rustix::fs::FileType::Fifo => Kind::Fifo,
            _ => Kind::File,
        }
    }

    fn special(self) -> bool {
        matches!(self, Kind::Char | Kind::Block | Kind::Fifo)
    }
}

/// The owners to give inside a sandbox with subordinate ids: every
/// recorded path but device nodes and fifos (which the tree cannot hold).
pub fn owners(users: &Users, recorded: &[Recorded]) -> Vec<Owner> {
    if !matches!(users, Users::Subordinate { .. }) {
        return Vec::new();
    }
    recorded
        .iter()
        .filter(|r| !Kind::of_entry(r.kind).special())
        .map(|r| Owner {
            path: absolute(&r.path),
            uid: r.uid as u32,
            gid: r.gid as u32,
            mode: (r.kind != EntryKind::Symlink).then_some(r.mode),
            xattrs: r.xattrs.clone(),
        })
        .collect()
}

fn absolute(rel: &Path) -> String {
    format!("/{}", rel.display())
}

/// What the tree at `tree` lacks after a build as `users`: the unpacker's
/// `recorded` metadata and the scripts' `chowns`, checked against what the
/// tree now has (paths since removed are left out, as are records of
/// files a script replaced; modes are the tree's).
pub fn entries(tree: &Tree, users: &Users, recorded: &[Recorded], chowns: &[Chown]) -> Vec<Entry> {
    let mut by_path: BTreeMap<String, Entry> = BTreeMap::new();
    let subordinate = match users {
        Users::Host => return Vec::new(),
        Users::Subordinate { .. } => true,
        Users::Single => false,
    };
    for r in recorded {
        let kind = Kind::of_entry(r.kind);
        if subordinate && !kind.special() {
            continue;
        }
        let path = absolute(&r.path);
        let st = tree.lstat(&r.path).ok();
        if st.is_none_or(|st| st.st_ino != r.inode) {
            // Removed, or replaced by a maintainer script: the new file
            // is root's unless a chown below says otherwise.
            continue;
        }
        by_path.insert(
            path.clone(),
            Entry {
                path,
                kind,
                mode: r.mode,
                uid: r.uid as u32,
                gid: r.gid as u32,
                device: r.device,
                xattrs: r
                    .xattrs
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            base64::engine::general_purpose::STANDARD.encode(v),
                        )
                    })
                    .collect(),
            },
        );
    }
    settle(tree, by_path, chowns)
}

/// The tree's `existing` entries (as [`read`] gives them) with the
/// `chowns` of a later run applied, checked against what the tree has
/// now, as [`entries`] does.
pub fn with_chowns(tree: &Tree, existing: Vec<Entry>, chowns: &[Chown]) -> Vec<Entry> {
    let by_path = existing.into_iter().map(|e| (e.path.clone(), e)).collect();
    settle(tree, by_path, chowns)
}

/// Apply `chowns` to `by_path`, then take types and modes from the tree
/// (dropping paths it no longer has and entries with nothing to say).
fn settle(tree: &Tree, mut by_path: BTreeMap<String, Entry>, chowns: &[Chown]) -> Vec<Entry> {
    for c in chowns {
        let e = by_path.entry(c.path.clone()).or_insert_with(|| Entry {
            path: c.path.clone(),
            kind: Kind::File,
            mode: 0,
            uid: 0,
            gid: 0,
            device: None,
            xattrs: BTreeMap::new(),
        });
        e.uid = c.uid.unwrap_or(e.uid);
        e.gid = c.gid.unwrap_or(e.gid);
    }
    by_path
        .into_values()
        .filter_map(|mut e| {
            let st = tree.lstat(Path::new(e.path.trim_start_matches('/'))).ok()?;
            let on_disk = Kind::of_stat(st.st_mode);
            // A device node or fifo is an empty file standing in for it.
            if !(e.kind.special() && on_disk == Kind::File) {
                e.kind = on_disk;
                e.device = None;
            }
            e.mode = st.st_mode & 0o7777;
            let plain = e.uid == 0 && e.gid == 0 && !e.kind.special() && e.xattrs.is_empty();
            (!plain).then_some(e)
        })
        .collect()
}

/// Write `entries` (sorted by path) to the tree's file, atomically; with
/// none, make sure there is no file.
pub fn write(tree: &Tree, entries: &[Entry]) -> io::Result<()> {
    if entries.is_empty() {
        return tree.remove_file(Path::new(FILE));
    }
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
    };
    let mut text = serde_json::to_string(&header).expect("serializes") + "\n";
    for e in entries {
        text += &serde_json::to_string(e).expect("serializes");
        text.push('\n');
    }
    tree.write_file(Path::new(FILE), text.as_bytes(), 0o644)
}

/// Read the file of the tree at `root`; no file means nothing to restore.
pub fn read(root: &Path) -> Result<Vec<Entry>, OwnershipError> {
    let path = root.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(OwnershipError::Read { path, source }),
    };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    match serde_json::from_str::<Header>(first) {
        Ok(h) if h.format == FORMAT && h.version == VERSION => {}
        _ => {
            return Err(OwnershipError::Version {
                path,
                found: first.to_owned(),
            })
        }
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| OwnershipError::Syntax {
                path: path.clone(),
                line: i + 2,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(root: &Path, path: &str, kind: EntryKind, uid: u64, gid: u64) -> Recorded {
        use std::os::unix::fs::MetadataExt;
        Recorded {
            path: path.into(),
            kind,
            mode: 0o640,
            uid,
            gid,
            device: (kind == EntryKind::CharDevice).then_some((1, 3)),
            xattrs: Vec::new(),
            inode: std::fs::symlink_metadata(root.join(path)).map_or(0, |m| m.ino()),
        }
    }

    fn temp_tree(tag: &str) -> (PathBuf, Tree) {
        let root = std::env::temp_dir().join(format!("ownership-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        for f in ["etc/shadow", "etc/group", "etc/replaced", "dev/null"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        let tree = Tree::open(&root).unwrap();
        (root, tree)
    }

    #[test]
    fn entries_follow_the_tree_and_the_chowns() {
        let (root, tree) = temp_tree("entries");
        let rec = [
            recorded(&root, "dev/null", EntryKind::CharDevice, 0, 0),
            recorded(&root, "etc/gone", EntryKind::Regular, 0, 42),
            recorded(&root, "etc/replaced", EntryKind::Regular, 0, 42),
            recorded(&root, "etc/shadow", EntryKind::Regular, 0, 42),
        ];
        // A script put a new file in its place: root's, like its maker.
        std::fs::write(root.join("etc/new"), "").unwrap();
        std::fs::rename(root.join("etc/new"), root.join("etc/replaced")).unwrap();
        let chowns = [
            Chown {
                path: "/etc/group".into(),
                uid: None,
                gid: Some(8),
            },
            Chown {
                path: "/etc/shadow".into(),
                uid: Some(0),
                gid: Some(0),
            },
            Chown {
                path: "/etc/shadow".into(),
                uid: None,
                gid: Some(43),
            },
        ];
        let single = entries(&tree, &Users::Single, &rec, &chowns);
        let paths: Vec<_> = single
            .iter()
            .map(|e| (e.path.as_str(), e.kind, e.gid, e.device))
            .collect();
        assert_eq!(
            paths,
            [
                ("/dev/null", Kind::Char, 0, Some((1, 3))),
                ("/etc/group", Kind::File, 8, None),
                ("/etc/shadow", Kind::File, 43, None)
            ]
        );
        // With subordinate ids only the node is kept; as root nothing.
        let ids = crate::sandbox::IdRange {
            start: 100000,
            count: 65536,
        };
        let sub = Users::Subordinate {
            uids: ids,
            gids: ids,
        };
        assert_eq!(entries(&tree, &sub, &rec, &[]).len(), 1);
        assert_eq!(owners(&sub, &rec).len(), 3);
        assert!(entries(&tree, &Users::Host, &rec, &chowns).is_empty());

        write(&tree, &single).unwrap();
        let text = std::fs::read_to_string(root.join(FILE)).unwrap();
        assert!(text.starts_with("{\"format\":\"rdebootstrap-ownership\",\"version\":1}\n"));
        assert!(text.contains(
            "{\"path\":\"/dev/null\",\"type\":\"char\",\"mode\":\"0644\",\"uid\":0,\"gid\":0,\"device\":[1,3]}\n"
        ));
        assert_eq!(read(&root).unwrap(), single);
        // Nothing to keep: no file.
        write(&tree, &[]).unwrap();
        assert!(!root.join(FILE).exists());
        assert!(read(&root).unwrap().is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn bad_files_are_named() {
        let (root, _tree) = temp_tree("bad");
        std::fs::create_dir_all(root.join("var/lib/rdebootstrap")).unwrap();
        std::fs::write(
            root.join(FILE),
            "{\"format\":\"rdebootstrap-ownership\",\"version\":1}\n{\"path\":\"/x\"}\n",
        )
        .unwrap();
        let e = read(&root).unwrap_err();
        assert!(matches!(e, OwnershipError::Syntax { line: 2, .. }), "{e}");
        assert!(e
            .to_string()
            .ends_with("ownership:2: not an ownership entry"));
        std::fs::write(
            root.join(FILE),
            "{\"format\":\"rdebootstrap-ownership\",\"version\":9}\n",
        )
        .unwrap();
        let e = read(&root).unwrap_err().to_string();
        assert!(
            e.contains("use the rdebootstrap that built the tree"),
            "{e}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
