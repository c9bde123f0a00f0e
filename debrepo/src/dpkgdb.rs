//! The dpkg database of a tree, as dpkg leaves it after `dpkg --unpack` of
//! the same packages (checked against dpkg itself in the tests), plus apt's
//! record of which packages were installed automatically.
//!
//! Under `var/lib/dpkg`: `status` (each package's control stanza with
//! `Status: install ok unpacked`, fields in dpkg's order, conffiles listed
//! as `newconffile` until `dpkg --configure` installs them), `info/` (the
//! `.list` of installed paths and the control members dpkg keeps, named
//! `<pkg>:<arch>.*` for `Multi-Arch: same` packages), `info/format`,
//! `triggers/` (interests: `File` for file triggers, one file per named
//! trigger; `Unincorp`, `Lock`), `updates/`, the lock files, `arch` (as
//! `dpkg --add-architecture` writes it; the dpkg in the tree adds
//! `arch-native` itself where its version keeps one). Under
//! `var/lib/apt`: `extended_states`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::deb::{ControlFiles, DebError};
use crate::deb822;
use crate::packages::MultiArch;
use crate::tree::Tree;
use crate::unpack::Unpacked;

/// The most of a database file [`add_unpacked`] reads (dpkg's `status`
/// of a large system is a few MB).
const STATE_LIMIT: u64 = 256 << 20;

/// dpkg's order of the fields it knows; others follow in their own order.
const FIELD_ORDER: &[&str] = &[
    "Package",
    "Essential",
    "Protected",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Origin",
    "Maintainer",
    "Bugs",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Config-Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Conffiles",
    "Description",
    "Triggers-Pending",
    "Triggers-Awaited",
];

/// Control members dpkg keeps in `info/`, with their modes.
const INFO_MEMBERS: &[(&str, u32)] = &[
    ("conffiles", 0o644),
    ("config", 0o755),
    ("md5sums", 0o644),
    ("postinst", 0o755),
    ("postrm", 0o755),
    ("preinst", 0o755),
    ("prerm", 0o755),
    ("shlibs", 0o644),
    ("symbols", 0o644),
    ("templates", 0o644),
    ("triggers", 0o644),
];

/// One unpacked package.
#[derive(Debug, Clone, Copy)]
pub struct DbPackage<'a> {
    pub control: &'a ControlFiles,
    /// Its `.list`: the paths it installed, in archive order.
    pub list: &'a [String],
    /// `md5sums` made while unpacking, for a package that ships none
    /// (dpkg makes one then too).
    pub md5sums: Option<&'a str>,
    /// Requested by the user (not marked automatic for apt).
    pub manual: bool,
}

impl<'a> DbPackage<'a> {
    /// The packages of one unpack, in its order: their control files and
    /// what [`Unpacked`] says of each; `manual(i)` tells which were
    /// requested.
    pub fn all(
        controls: &'a [ControlFiles],
        unpacked: &'a Unpacked,
        manual: impl Fn(usize) -> bool,
    ) -> Vec<DbPackage<'a>> {
        controls
            .iter()
            .enumerate()
            .map(|(i, control)| DbPackage {
                control,
                list: &unpacked.lists[i],
                md5sums: unpacked.md5sums[i].as_deref(),
                manual: manual(i),
            })
            .collect()
    }
}

/// Writing the database failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{package}: control data")]
    Control {
        package: String,
        #[source]
        source: DebError,
    },
    #[error("{path}: cannot write it")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// `name` or `name:arch` for a `Multi-Arch: same` package: the name of
/// its `info/` files.
fn info_name(name: &str, arch: &str, ma: MultiArch) -> String {
    if ma == MultiArch::Same {
        format!("{name}:{arch}")
    } else {
        name.to_owned()
    }
}

/// The `status` stanza of a package in state `status`
/// (`install ok unpacked`), conffiles with `hash` (`newconffile`).
pub fn status_stanza(control: &ControlFiles, status: &str) -> Result<String, DebError> {
    let stanza = control.stanza()?;
    let conffiles = control.conffiles()?;
    let mut known: BTreeMap<usize, String> = BTreeMap::new();
    let mut others = Vec::new();
    let mut put = |name: &str, value: &str| {
        let mut text = String::new();
        deb822::write_field(&mut text, name, value);
        match FIELD_ORDER
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                known.insert(i, text);
            }
            None => others.push(text),
        }
    };
    for f in stanza.fields() {
        // Written from the package's state, never copied.
        if f.is("Status") || f.is("Conffiles") || f.is("Config-Version") {
            continue;
        }
        put(canonical_name(f.name), f.value);
    }
    put("Status", status);
    if !conffiles.is_empty() {
        let mut v = String::new();
        for c in &conffiles {
            let _ = write!(v, "\n {} newconffile", c.path);
            if c.remove_on_upgrade {
                v.push_str(" remove-on-upgrade");
            }
        }
        put("Conffiles", &v);
    }
    let mut out: String = known.into_values().collect();
    for o in others {
        out.push_str(&o);
    }
    Ok(out)
}

/// A known field's name in dpkg's spelling; others as written.
fn canonical_name(name: &str) -> &str {
    FIELD_ORDER
        .iter()
        .find(|f| f.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or(name)
}

/// What [`write_packages`] gathers for the shared files.
#[derive(Default)]
struct Gathered {
    /// (name, arch) → stanza, for dpkg's sorted status file.
    status: BTreeMap<(String, String), String>,
    /// File trigger interests: (path, interested package).
    file_interests: Vec<(String, String)>,
    /// Named trigger interests: name → interested packages.
    named: BTreeMap<String, Vec<String>>,
}

fn open(root: &Path) -> Result<Tree, DbError> {
    Tree::open(root).map_err(|source| DbError::Write {
        path: root.to_owned(),
        source,
    })
}

fn write(tree: &Tree, rel: &str, data: &[u8], mode: u32) -> Result<(), DbError> {
    tree.write_file(Path::new(rel), data, mode)
        .map_err(|source| DbError::Write {
            path: tree.path().join(rel),
            source,
        })
}

fn label(c: &ControlFiles) -> impl Fn(DebError) -> DbError + '_ {
    move |source| DbError::Control {
        package: c
            .package()
            .map(|p| p.name.to_owned())
            .unwrap_or_else(|_| "(unknown)".into()),
        source,
    }
}

/// Each package's `info/` files; its stanza and trigger interests for the
/// shared files.
fn write_packages(tree: &Tree, packages: &[DbPackage<'_>]) -> Result<Gathered, DbError> {
    // A package's own info files are new in the tree: no temporary and
    // rename for each (metadata writes that cost on a real disk).
    let write_new = |rel: &str, data: &[u8], mode: u32| {
        tree.write_new_file(Path::new(rel), data, mode)
            .map_err(|source| DbError::Write {
                path: tree.path().join(rel),
                source,
            })
    };
    let mut out = Gathered::default();
    for p in packages {
        let c = p.control;
        let pkg = c.package().map_err(label(c))?;
        let info = info_name(pkg.name, pkg.architecture, pkg.multi_arch);
        out.status.insert(
            (pkg.name.to_owned(), pkg.architecture.to_owned()),
            status_stanza(c, "install ok unpacked").map_err(label(c))?,
        );
        write_new(
            &format!("var/lib/dpkg/info/{info}.list"),
            list_text(p.list).as_bytes(),
            0o644,
        )?;
        for (member, mode) in INFO_MEMBERS {
            let data = match (c.file(member), *member, p.md5sums) {
                (Some(data), _, _) => data,
                (None, "md5sums", Some(made)) => made.as_bytes(),
                _ => continue,
            };
            write_new(&format!("var/lib/dpkg/info/{info}.{member}"), data, *mode)?;
        }
        for t in c.triggers().map_err(label(c))? {
            let who = match t.directive {
                "interest" | "interest-await" => info.clone(),
                "interest-noawait" => format!("{info}/noawait"),
                _ => continue,
            };
            if t.name.starts_with('/') {
                out.file_interests.push((t.name.to_owned(), who));
            } else {
                out.named.entry(t.name.to_owned()).or_default().push(who);
            }
        }
    }
    Ok(out)
}

fn list_text(list: &[String]) -> String {
    let mut text = String::new();
    for path in list {
        text.push_str(path);
        text.push('\n');
    }
    text
}

/// Write the database for `packages`, all unpacked, into the tree at
/// `root`. `native` and `foreign` are the architectures dpkg is to know.
pub fn write_unpacked(
    root: &Path,
    native: &str,
    foreign: &[String],
    packages: &[DbPackage<'_>],
) -> Result<(), DbError> {
    let tree = open(root)?;
    let write = |rel: &str, data: &[u8], mode: u32| write(&tree, rel, data, mode);
    let Gathered {
        status,
        file_interests,
        named,
    } = write_packages(&tree, packages)?;
    let status_text = status.into_values().collect::<Vec<_>>().join("\n");
    let status_text = if status_text.is_empty() {
        status_text
    } else {
        status_text + "\n"
    };
    write("var/lib/dpkg/status", status_text.as_bytes(), 0o644)?;
    write("var/lib/dpkg/info/format", b"1\n", 0o644)?;
    let mut file = String::new();
    for (path, who) in &file_interests {
        let _ = writeln!(file, "{path} {who}");
    }
    write("var/lib/dpkg/triggers/File", file.as_bytes(), 0o644)?;
    for (name, who) in &named {
        write(
            &format!("var/lib/dpkg/triggers/{name}"),
            (who.join("\n") + "\n").as_bytes(),
            0o644,
        )?;
    }
    write("var/lib/dpkg/triggers/Unincorp", b"", 0o644)?;
    write("var/lib/dpkg/triggers/Lock", b"", 0o600)?;
    write("var/lib/dpkg/lock", b"", 0o640)?;
    write("var/lib/dpkg/lock-frontend", b"", 0o640)?;
    tree.make_dirs(Path::new("var/lib/dpkg/updates"))
        .map_err(|e| DbError::Write {
            path: root.join("var/lib/dpkg/updates"),
            source: e.into(),
        })?;
    let mut arches = format!("{native}\n");
    for f in foreign {
        arches.push_str(f);
        arches.push('\n');
    }
    write("var/lib/dpkg/arch", arches.as_bytes(), 0o644)?;
    extended_states(&tree, native, packages)
}

/// apt's `extended_states`: the packages not requested by the user.
fn extended_states(tree: &Tree, native: &str, packages: &[DbPackage<'_>]) -> Result<(), DbError> {
    let mut auto: BTreeMap<(String, String), ()> = BTreeMap::new();
    for p in packages.iter().filter(|p| !p.manual) {
        let pkg = p.control.package().map_err(label(p.control))?;
        // apt records `all` packages under the native architecture.
        let arch = if pkg.architecture == crate::arch::ALL {
            native
        } else {
            pkg.architecture
        };
        auto.insert((pkg.name.to_owned(), arch.to_owned()), ());
    }
    let mut states = String::new();
    for (name, arch) in auto.keys() {
        if !states.is_empty() {
            states.push('\n');
        }
        let _ = write!(
            states,
            "Package: {name}\nArchitecture: {arch}\nAuto-Installed: 1\n"
        );
    }
    write(
        tree,
        "var/lib/apt/extended_states",
        states.as_bytes(),
        0o644,
    )
}

/// Add `added`, all unpacked, to the database of the tree at `root`, which
/// [`write_unpacked`] wrote for `earlier` and dpkg has since run on (the
/// essential set configured while the rest was unpacked beside the tree):
/// as if dpkg unpacked `added` now.
///
/// Their stanzas join dpkg's `status` and their interests the trigger
/// files. `earlier`'s `.list` files are written again, without what
/// `added` took over. A file trigger of `earlier` that an added path
/// activates (at or below the interest's path, as dpkg matches it) is
/// recorded in `triggers/Unincorp`, as `dpkg-trigger` records one, with
/// no awaiting package: the next dpkg run marks it pending and the last
/// one processes it. Named triggers need nothing: a package's own
/// `activate` directives fire again when it is configured.
pub fn add_unpacked(
    root: &Path,
    native: &str,
    earlier: &[DbPackage<'_>],
    added: &[DbPackage<'_>],
) -> Result<(), DbError> {
    let tree = open(root)?;
    let read = |rel: &str| -> Result<String, DbError> {
        match tree.read(Path::new(rel), STATE_LIMIT) {
            Ok(data) => String::from_utf8(data).map_err(|e| DbError::Write {
                path: root.join(rel),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(DbError::Write {
                path: root.join(rel),
                source,
            }),
        }
    };
    for p in earlier {
        let pkg = p.control.package().map_err(label(p.control))?;
        let info = info_name(pkg.name, pkg.architecture, pkg.multi_arch);
        write(
            &tree,
            &format!("var/lib/dpkg/info/{info}.list"),
            list_text(p.list).as_bytes(),
            0o644,
        )?;
    }
    let Gathered {
        status,
        file_interests,
        named,
    } = write_packages(&tree, added)?;
    let mut text = read("var/lib/dpkg/status")?
        .trim_end_matches('\n')
        .to_owned();
    for stanza in status.into_values() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(stanza.trim_end_matches('\n'));
    }
    if !text.is_empty() {
        text.push('\n');
    }
    write(&tree, "var/lib/dpkg/status", text.as_bytes(), 0o644)?;
    // The earlier packages' file interests, before the added ones join.
    let existing = read("var/lib/dpkg/triggers/File")?;
    let mut activated: std::collections::BTreeSet<&str> = Default::default();
    for line in existing.lines() {
        let Some((interest, _)) = line.split_once(' ') else {
            continue;
        };
        let hit = added.iter().flat_map(|p| p.list.iter()).any(|path| {
            path.strip_prefix(interest)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        if hit {
            activated.insert(interest);
        }
    }
    let mut file = existing.clone();
    for (path, who) in &file_interests {
        let _ = writeln!(file, "{path} {who}");
    }
    write(&tree, "var/lib/dpkg/triggers/File", file.as_bytes(), 0o644)?;
    for (name, who) in &named {
        let rel = format!("var/lib/dpkg/triggers/{name}");
        let text = read(&rel)? + &(who.join("\n") + "\n");
        write(&tree, &rel, text.as_bytes(), 0o644)?;
    }
    let mut unincorp = read("var/lib/dpkg/triggers/Unincorp")?;
    for interest in activated {
        let _ = writeln!(unincorp, "{interest} -");
    }
    write(
        &tree,
        "var/lib/dpkg/triggers/Unincorp",
        unincorp.as_bytes(),
        0o644,
    )?;
    let all: Vec<DbPackage<'_>> = earlier.iter().chain(added).cloned().collect();
    extended_states(&tree, native, &all)
}
