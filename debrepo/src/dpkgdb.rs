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

/// Write the database for `packages`, all unpacked, into the tree at
/// `root`. `native` and `foreign` are the architectures dpkg is to know.
pub fn write_unpacked(
    root: &Path,
    native: &str,
    foreign: &[String],
    packages: &[DbPackage<'_>],
) -> Result<(), DbError> {
    let tree = Tree::open(root).map_err(|source| DbError::Write {
        path: root.to_owned(),
        source,
    })?;
    let failed = |rel: &str| {
        let path = root.join(rel);
        move |source| DbError::Write { path, source }
    };
    let write = |rel: &str, data: &[u8], mode: u32| {
        tree.write_file(Path::new(rel), data, mode)
            .map_err(failed(rel))
    };
    // A package's own info files are new in the tree: no temporary and
    // rename for each (metadata writes that cost on a real disk).
    let write_new = |rel: &str, data: &[u8], mode: u32| {
        tree.write_new_file(Path::new(rel), data, mode)
            .map_err(failed(rel))
    };
    // (name, arch) → stanza, for dpkg's sorted status file.
    let mut status: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut file_interests: Vec<(String, String)> = Vec::new();
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut auto: BTreeMap<(String, String), ()> = BTreeMap::new();
    for p in packages {
        let c = p.control;
        let label = |source| DbError::Control {
            package: c
                .package()
                .map(|p| p.name.to_owned())
                .unwrap_or_else(|_| "(unknown)".into()),
            source,
        };
        let pkg = c.package().map_err(label)?;
        let info = info_name(pkg.name, pkg.architecture, pkg.multi_arch);
        status.insert(
            (pkg.name.to_owned(), pkg.architecture.to_owned()),
            status_stanza(c, "install ok unpacked").map_err(label)?,
        );
        let mut list = String::new();
        for path in p.list {
            list.push_str(path);
            list.push('\n');
        }
        write_new(
            &format!("var/lib/dpkg/info/{info}.list"),
            list.as_bytes(),
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
        for t in c.triggers().map_err(label)? {
            let who = match t.directive {
                "interest" | "interest-await" => info.clone(),
                "interest-noawait" => format!("{info}/noawait"),
                _ => continue,
            };
            if t.name.starts_with('/') {
                file_interests.push((t.name.to_owned(), who));
            } else {
                named.entry(t.name.to_owned()).or_default().push(who);
            }
        }
        if !p.manual {
            // apt records `all` packages under the native architecture.
            let arch = if pkg.architecture == crate::arch::ALL {
                native
            } else {
                pkg.architecture
            };
            auto.insert((pkg.name.to_owned(), arch.to_owned()), ());
        }
    }
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
    write("var/lib/apt/extended_states", states.as_bytes(), 0o644)?;
    Ok(())
}
