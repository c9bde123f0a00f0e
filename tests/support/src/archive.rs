//! Signed APT archives made on the fly: synthetic .debs in a pool, Packages
//! indices (plain, .gz, .xz), a Release file with SHA256 and MD5Sum tables,
//! InRelease and Release.gpg signed with a key made at test time, and the
//! by-hash copies apt asks for.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::gpg::Gpg;
use crate::{Comp, DebBuilder};

/// One suite of a test archive.
#[derive(Debug, Clone)]
pub struct SuiteBuilder {
    suite: String,
    codename: String,
    arch: String,
    component: String,
    packages: Vec<DebBuilder>,
    compressions: Vec<Comp>,
    by_hash: bool,
    flat: bool,
    valid_until: Option<String>,
    date: String,
}

/// What a written suite consists of.
#[derive(Debug, Clone)]
pub struct WrittenSuite {
    /// The suite directory (`<root>/dists/<suite>` or the flat directory).
    pub dir: PathBuf,
    /// Path of each .deb relative to the archive root, with its SHA256.
    pub debs: Vec<(String, String)>,
    /// The uncompressed Packages text (of the suite's own architecture).
    pub packages: String,
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SuiteBuilder {
    /// A suite (`codename` is also its Suite unless changed).
    pub fn new(codename: &str) -> SuiteBuilder {
        SuiteBuilder {
            suite: codename.into(),
            codename: codename.into(),
            arch: "amd64".into(),
            component: "main".into(),
            packages: Vec::new(),
            compressions: vec![Comp::None, Comp::Gzip, Comp::Xz],
            by_hash: true,
            flat: false,
            valid_until: None,
            date: "Sat, 12 Sep 2026 07:55:41 UTC".into(),
        }
    }

    /// The `Suite` field (e.g. `stable`).
    pub fn suite(mut self, s: &str) -> Self {
        self.suite = s.into();
        self
    }

    /// Add a package.
    pub fn package(mut self, deb: DebBuilder) -> Self {
        self.packages.push(deb);
        self
    }

    /// Which Packages variants to publish (`None` = plain).
    pub fn compressions(mut self, c: &[Comp]) -> Self {
        self.compressions = c.to_vec();
        self
    }

    /// Publish `Acquire-By-Hash: yes` and by-hash copies.
    pub fn by_hash(mut self, on: bool) -> Self {
        self.by_hash = on;
        self
    }

    /// A flat repository (files in the root directory, no dists/).
    pub fn flat(mut self) -> Self {
        self.flat = true;
        self
    }

    /// The `Valid-Until` field.
    pub fn valid_until(mut self, date: &str) -> Self {
        self.valid_until = Some(date.into());
        self
    }

    /// The `Date` field (default `Sat, 12 Sep 2026 07:55:41 UTC`).
    pub fn date(mut self, date: &str) -> Self {
        self.date = date.into();
        self
    }

    /// Write the suite under `root`, signing with `key` of `gpg`.
    pub fn write(&self, root: &Path, gpg: &Gpg, key: &str) -> WrittenSuite {
        let dir = if self.flat {
            root.to_owned()
        } else {
            root.join("dists").join(&self.codename)
        };
        std::fs::create_dir_all(&dir).unwrap();
        // (architecture, stanza) of every package.
        let mut stanzas: Vec<(String, String)> = Vec::new();
        let mut debs = Vec::new();
        for deb in &self.packages {
            let bytes = deb.build();
            let text = deb.control_text();
            let field = |n: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{n}: ")))
                    .unwrap_or_default()
                    .to_owned()
            };
            let (name, version, arch) = (field("Package"), field("Version"), field("Architecture"));
            let file_version = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
            let rel = if self.flat {
                format!("{name}_{file_version}_{arch}.deb")
            } else {
                let initial = &name[..1];
                format!(
                    "pool/{}/{initial}/{name}/{name}_{file_version}_{arch}.deb",
                    self.component
                )
            };
            let dest = root.join(&rel);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, &bytes).unwrap();
            let sha = sha256_hex(&bytes);
            stanzas.push((
                arch.clone(),
                format!(
                    "{text}Filename: {rel}\nSize: {}\nSHA256: {sha}\n",
                    bytes.len()
                ),
            ));
            debs.push((rel, sha));
        }
        // The suite's architectures: its own, then any other a package
        // has. Each binary-ARCH index holds that architecture's packages
        // and the `all` ones, as Debian's do; a flat repository has one
        // index with everything.
        let mut arches = vec![self.arch.clone()];
        for (a, _) in &stanzas {
            if a != "all" && !arches.contains(a) {
                arches.push(a.clone());
            }
        }
        let mut indices: Vec<(String, String)> = Vec::new();
        for arch in &arches {
            let base = if self.flat {
                "Packages".to_owned()
            } else {
                format!("{}/binary-{arch}/Packages", self.component)
            };
            let text: Vec<&str> = stanzas
                .iter()
                .filter(|(a, _)| self.flat || a == arch || a == "all")
                .map(|(_, t)| t.as_str())
                .collect();
            indices.push((base, text.join("\n")));
            if self.flat {
                break;
            }
        }
        // (path, bytes, published): the plain index is always listed in the
        // Release file, as real archives do, but served only if asked for.
        let mut entries = Vec::new();
        for (base, packages) in &indices {
            entries.push((
                base.clone(),
                packages.as_bytes().to_vec(),
                self.compressions.contains(&Comp::None),
            ));
            for c in &self.compressions {
                if *c != Comp::None {
                    entries.push((
                        format!("{base}{}", c.suffix()),
                        c.compress(packages.as_bytes()),
                        true,
                    ));
                }
            }
        }
        let mut release = String::new();
        let mut put = |k: &str, v: &str| release.push_str(&format!("{k}: {v}\n"));
        put("Origin", "Test");
        put("Label", "Test");
        if !self.flat {
            put("Suite", &self.suite);
            put("Codename", &self.codename);
        }
        put("Date", &self.date);
        if let Some(v) = &self.valid_until {
            put("Valid-Until", v);
        }
        put("Architectures", &arches.join(" "));
        if !self.flat {
            put("Components", &self.component);
        }
        if self.by_hash {
            put("Acquire-By-Hash", "yes");
        }
        let mut md5 = String::from("MD5Sum:\n");
        let mut sha = String::from("SHA256:\n");
        for (path, data, _) in &entries {
            md5.push_str(&format!(" {} {} {path}\n", md5_hex(data), data.len()));
            sha.push_str(&format!(" {} {} {path}\n", sha256_hex(data), data.len()));
        }
        release.push_str(&md5);
        release.push_str(&sha);
        for (path, data, published) in &entries {
            if !published {
                continue;
            }
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, data).unwrap();
            if self.by_hash {
                let bh = file.parent().unwrap().join("by-hash/SHA256");
                std::fs::create_dir_all(&bh).unwrap();
                std::fs::write(bh.join(sha256_hex(data)), data).unwrap();
            }
        }
        std::fs::write(dir.join("Release"), &release).unwrap();
        std::fs::write(dir.join("InRelease"), gpg.clearsign(key, &release, &[])).unwrap();
        std::fs::write(
            dir.join("Release.gpg"),
            gpg.detach_sign(key, release.as_bytes(), &[]),
        )
        .unwrap();
        WrittenSuite {
            dir,
            debs,
            packages: indices.swap_remove(0).1,
        }
    }
}

/// Append to a file (for tests that alter a published file).
pub fn append(path: &Path, data: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(data)
        .unwrap();
}

/// A suite written under `<dir>/debian`, signed with a key made for it and
/// served on loopback: the fixture of the end-to-end tests.
pub struct Served {
    pub dir: crate::TempDir,
    pub gpg: Gpg,
    pub key: String,
    pub server: crate::http::Server,
}

impl Served {
    /// Write, sign and serve `suite`; `None` (saying why) where GnuPG is
    /// not installed, a failure under CI ([`crate::require`]).
    pub fn start(name: &str, suite: SuiteBuilder) -> Option<Served> {
        if !crate::require(crate::gpg::available(), "gpg (package gnupg)") {
            return None;
        }
        let dir = crate::TempDir::new(name);
        let gpg = Gpg::new();
        let key = gpg.key(&format!("{name} archive"), "ed25519", "0", None);
        suite.write(&dir.path().join("debian"), &gpg, &key);
        let server = crate::http::Server::serve_dir(dir.path());
        Some(Served {
            dir,
            gpg,
            key,
            server,
        })
    }

    /// The archive URL (`http://127.0.0.1:PORT/debian`).
    pub fn url(&self) -> String {
        format!("{}/debian", self.server.url())
    }

    /// The archive's root directory on disk.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("debian")
    }

    /// Write the archive's public keyring (binary) to `path`.
    pub fn write_keyring(&self, path: &Path) {
        std::fs::write(path, self.gpg.export(&[&self.key], false)).unwrap();
    }
}
