//! `meta = ["apt-lists:stage"]`: what apt needs inside a built tree to
//! install from the manifest's archives without an `apt-get update`.
//!
//! [`stage`] writes, through the tree's root-confined [`Tree`]:
//!
//! - `etc/apt/sources.list.d/manifest.sources`, deb822 (sources.list(5),
//!   "DEB822-STYLE FORMAT"): one stanza per run of suites of one
//!   `[[archive]]` that share URL, components and architectures, in
//!   manifest order. `Types: deb`; `URIs:` the URL the build used (a
//!   vendor archive's resolved mirror, a snapshot archive's filled-in
//!   snapshot URL; any `user:password@` left out: credentials belong in
//!   apt's `auth.conf.d`, not in an image); `Suites:`; `Components:` and `Architectures:` as
//!   fetched, neither for a flat repository (`Suites: path/`), whose one
//!   index serves every architecture.
//! - `Signed-By:` the archive's keyring, copied into the tree as
//!   `etc/apt/keyrings/rdebootstrap-<n>.gpg` (binary, as `gpg --export`
//!   writes) or `.asc` (armored; apt reads `.asc` keyrings since 1.4), the
//!   extension following the content as apt requires. The keyring is the
//!   manifest's `signed-by` (a file, or the armored block written in the
//!   manifest) or, for `mirror = "<vendor>"`, the vendor keyring shipped
//!   with this library. Archives sharing a keyring share the file; `<n>`
//!   counts distinct keyrings from 1 in stanza order.
//! - `allow-insecure` archives get `Trusted: yes` and no `Signed-By`. apt
//!   knows two relaxations: `Allow-Insecure: yes` lets `apt-get update`
//!   accept the unsigned Release but leaves its packages unauthenticated,
//!   so `apt-get install` refuses them without `--allow-unauthenticated`;
//!   `Trusted: yes` makes apt treat the source as trusted. The manifest
//!   already trusted the network path (the build installed from it without
//!   a signature), so the tree's apt is given the same trust.
//! - Archives pinned to a snapshot get `Check-Valid-Until: no`: snapshot
//!   Release files are expired by nature (the build does not check them
//!   either), and a later `apt-get update` in the tree would refuse them.
//! - An archive with no key at all (possible only after `--no-verify`)
//!   gets no `Signed-By`: apt then uses its default keyrings.
//! - apt trusts lists it finds in `var/lib/apt/lists` by the presence of
//!   `InRelease` (or `Release.gpg`); it checks signatures only when it
//!   fetches. Suites fetched without a signature check (`--no-verify`) are
//!   staged all the same and listed in [`StagedLists::unverified`], so the
//!   caller can warn.
//!
//! and the verified files of each suite in `var/lib/apt/lists/`, under the
//! names apt gives them ([`list_file_name`] of the file's URI):
//!
//! - `InRelease` byte for byte as fetched (apt re-verifies it against
//!   `Signed-By` on update; its presence is what makes apt consider the
//!   source authenticated); for archives without one, `Release` and, when
//!   it was fetched, `Release.gpg`;
//! - each fetched `Packages` index, decompressed (apt reads uncompressed
//!   lists; they are exactly the bytes whose SHA256 the Release file
//!   lists, checked when fetched).
//!
//! apt's naming rule (apt-pkg `URItoFileName` and `pkgAcquire::URIEncode`,
//! checked against `apt-get --print-uris update`): the file's URI is the
//! archive URI (with a `/` appended when missing) followed by
//! `dists/<suite>/` (`<suite>/` for a flat repository, nothing for `/`,
//! the suite escaped as apt escapes URI parts: `+`, `~`, space, `%`,
//! control and non-ASCII bytes as `%xx`), then the path the Release file
//! lists (`InRelease`, `main/binary-amd64/Packages`, `Packages`). Of that
//! URI the scheme and any `user:password@` are dropped, IPv6 brackets
//! removed, the port kept (`host:8080`); then `\|{}[]<>"^~_=!@#$%&*`,
//! `%`, spaces, control and non-ASCII bytes become `%xx` (lower-case hex)
//! and every `/` becomes `_`: `deb.example.org_debian_dists_trixie_InRelease`.
//!
//! Output is deterministic: the same manifest, URLs and fetched suites
//! give the same bytes. Every file is written atomically with mode 0644
//! (keyrings too: apt's unprivileged `_apt` user must read them). Files a
//! previous staging left and this one does not write are not removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::archive::{FetchedSuite, RawRelease, SuiteLocation};
use crate::manifest::{ArchiveDecl, Manifest, SignedBy};
use crate::tree::Tree;
use crate::update::FetchedArchive;
use crate::vendor::Vendor;
use crate::verify::{Keyring, VerifyError};

/// Where the sources file goes, relative to the tree root.
pub const SOURCES_PATH: &str = "etc/apt/sources.list.d/manifest.sources";
/// Where keyrings go, relative to the tree root.
pub const KEYRING_DIR: &str = "etc/apt/keyrings";
/// apt's lists directory, relative to the tree root.
pub const LISTS_DIR: &str = "var/lib/apt/lists";

/// What [`stage`] wrote; paths are relative to the tree root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StagedLists {
    /// `etc/apt/sources.list.d/manifest.sources`.
    pub sources: PathBuf,
    /// The keyrings the sources file names, in order.
    pub keyrings: Vec<PathBuf>,
    /// The files in `var/lib/apt/lists`, in name order.
    pub lists: Vec<PathBuf>,
    /// Bytes written in all.
    pub bytes: u64,
    /// The suites (`URL SUITE`) whose Release file was not checked against
    /// a signature (`--no-verify`, or `allow-insecure`): apt in the tree
    /// trusts their lists all the same, so a caller should say so.
    pub unverified: Vec<String>,
}

/// Staging apt's sources and lists failed.
#[derive(Debug, thiserror::Error)]
pub enum AptListsError {
    #[error("{urls} archive URLs for {fetched} fetched suites: pass one URL per fetched suite, in the lock's archive order")]
    UrlCount { urls: usize, fetched: usize },
    #[error("fetched suite {suite} (#{index}) came from {fetched_from}, but the URL given for it is {url}")]
    UrlMismatch {
        index: usize,
        suite: String,
        url: String,
        fetched_from: String,
    },
    #[error("{manifest}: fetched suite {suite} names archive #{decl}, but the manifest has {archives} archives")]
    NoArchive {
        manifest: String,
        suite: String,
        decl: usize,
        archives: usize,
    },
    #[error("{manifest}, archive at line {line}: cannot read the signed-by keyring {}", path.display())]
    KeyringFile {
        manifest: String,
        line: usize,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{manifest}, archive at line {line}: the keyring is not usable by apt")]
    Keyring {
        manifest: String,
        line: usize,
        #[source]
        source: VerifyError,
    },
    #[error("{manifest}, archive at line {line}: the {field} {value:?} cannot be written in a deb822 sources file (it holds white space or a control character)")]
    Unwritable {
        manifest: String,
        line: usize,
        field: &'static str,
        value: String,
    },
    #[error("{first} and {second} both map to {LISTS_DIR}/{name} with different contents")]
    Collision {
        name: String,
        first: String,
        second: String,
    },
    #[error("cannot open the tree {}", root.display())]
    Tree {
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write {}", root.display(), path.display())]
    Write {
        root: PathBuf,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Write the sources file, keyrings and lists of `fetched` into the tree
/// at `tree_root`. `urls[i]` is the archive URL the build used for
/// `fetched[i]` (one per fetched suite, as [`crate::build::archive_urls`]
/// gives them for the lock's archives and [`crate::update::fetch_archives`]
/// fetches them). Everything is checked before anything is written, and
/// the sources file is written last, so a failed write never leaves it
/// naming lists that are not there.
pub fn stage(
    tree_root: &Path,
    manifest: &Manifest,
    urls: &[String],
    fetched: &[FetchedArchive],
) -> Result<StagedLists, AptListsError> {
    let plan = plan(manifest, urls, fetched)?;
    let tree = Tree::open(tree_root).map_err(|source| AptListsError::Tree {
        root: tree_root.to_owned(),
        source,
    })?;
    let mut staged = StagedLists {
        sources: PathBuf::from(SOURCES_PATH),
        ..StagedLists::default()
    };
    let mut write = |rel: PathBuf, data: &[u8]| {
        tree.write_file(&rel, data, 0o644)
            .map_err(|source| AptListsError::Write {
                root: tree.path().to_owned(),
                path: rel.clone(),
                source,
            })?;
        staged.bytes += data.len() as u64;
        Ok::<PathBuf, AptListsError>(rel)
    };
    let mut keyrings = Vec::new();
    for k in &plan.keyrings {
        keyrings.push(write(Path::new(KEYRING_DIR).join(&k.name), &k.bytes)?);
    }
    let mut lists = Vec::new();
    for (name, file) in &plan.lists {
        lists.push(write(Path::new(LISTS_DIR).join(name), file.data)?);
    }
    write(PathBuf::from(SOURCES_PATH), plan.sources.as_bytes())?;
    staged.keyrings = keyrings;
    staged.lists = lists;
    staged.unverified = plan.unverified;
    Ok(staged)
}

/// A keyring to write.
struct KeyringFile {
    name: String,
    bytes: Vec<u8>,
}

/// One list file and the suite it comes from (for collision messages).
struct ListFile<'a> {
    data: &'a [u8],
    origin: String,
}

/// Everything [`stage`] writes, computed before anything is written.
struct Plan<'a> {
    sources: String,
    unverified: Vec<String>,
    keyrings: Vec<KeyringFile>,
    lists: BTreeMap<String, ListFile<'a>>,
}

/// One deb822 stanza being gathered.
struct Stanza {
    decl: usize,
    uri: String,
    suites: Vec<String>,
    flat: bool,
    components: Vec<String>,
    arches: Vec<String>,
    keyring: Option<usize>,
    trusted: bool,
    snapshot: bool,
}

fn plan<'a>(
    manifest: &Manifest,
    urls: &[String],
    fetched: &'a [FetchedArchive],
) -> Result<Plan<'a>, AptListsError> {
    if urls.len() != fetched.len() {
        return Err(AptListsError::UrlCount {
            urls: urls.len(),
            fetched: fetched.len(),
        });
    }
    let mname = manifest.path.display().to_string();
    let mut keyrings: Vec<KeyringFile> = Vec::new();
    let mut stanzas: Vec<Stanza> = Vec::new();
    let mut lists: BTreeMap<String, ListFile<'a>> = BTreeMap::new();
    let mut unverified = Vec::new();
    for (i, (url, f)) in urls.iter().zip(fetched).enumerate() {
        let decl = manifest
            .archives
            .get(f.decl)
            .ok_or_else(|| AptListsError::NoArchive {
                manifest: mname.clone(),
                suite: f.suite.clone(),
                decl: f.decl,
                archives: manifest.archives.len(),
            })?;
        let s = &f.fetched;
        if SuiteLocation::new(url, &f.suite).dir() != s.location.dir() {
            return Err(AptListsError::UrlMismatch {
                index: i,
                suite: f.suite.clone(),
                url: url.clone(),
                fetched_from: s.location.dir(),
            });
        }
        let unwritable = |field: &'static str, value: &str| AptListsError::Unwritable {
            manifest: mname.clone(),
            line: decl.line,
            field,
            value: value.to_owned(),
        };
        let writable = |v: &str| !v.is_empty() && !v.bytes().any(|b| b <= b' ' || b == 0x7f);
        if !writable(url) {
            return Err(unwritable("URL", url));
        }
        if !writable(&f.suite) {
            return Err(unwritable("suite", &f.suite));
        }
        if s.signer.is_none() {
            unverified.push(format!("{} {}", without_credentials(url), f.suite));
        }
        let flat = s.location.is_flat();
        let mut components: Vec<String> = Vec::new();
        let mut arches: Vec<String> = Vec::new();
        for idx in &s.indices {
            if !flat {
                if !writable(&idx.component) {
                    return Err(unwritable("component", &idx.component));
                }
                if !writable(&idx.arch) {
                    return Err(unwritable("architecture", &idx.arch));
                }
            }
            if !components.contains(&idx.component) {
                components.push(idx.component.clone());
            }
            if !arches.contains(&idx.arch) {
                arches.push(idx.arch.clone());
            }
        }
        if flat {
            components.clear();
            arches.clear();
        }

        // The list files of this suite.
        let origin = format!("{} {}", without_credentials(url), f.suite);
        let mut add = |file: &str, data: &'a [u8]| {
            let name = list_file_name(&suite_file_uri(url, &f.suite, file));
            match lists.get(&name) {
                Some(prev) if prev.data != data => Err(AptListsError::Collision {
                    name,
                    first: prev.origin.clone(),
                    second: origin.clone(),
                }),
                Some(_) => Ok(()),
                None => {
                    lists.insert(
                        name,
                        ListFile {
                            data,
                            origin: origin.clone(),
                        },
                    );
                    Ok(())
                }
            }
        };
        match &s.raw {
            RawRelease::InRelease(b) => add("InRelease", b)?,
            RawRelease::Release { release, signature } => {
                add("Release", release)?;
                if let Some(sig) = signature {
                    add("Release.gpg", sig)?;
                }
            }
        }
        for idx in &s.indices {
            add(
                &s.location.packages_path(&idx.component, &idx.arch),
                &idx.data,
            )?;
        }

        // The keyring apt is to verify it with.
        let bytes = if decl.allow_insecure {
            None
        } else {
            keyring_bytes(manifest, &mname, decl)?
        };
        let keyring = bytes.map(|bytes| {
            keyrings
                .iter()
                .position(|k| k.bytes == bytes)
                .unwrap_or_else(|| {
                    let ext = if is_armored(&bytes) { "asc" } else { "gpg" };
                    keyrings.push(KeyringFile {
                        name: format!("rdebootstrap-{}.{ext}", keyrings.len() + 1),
                        bytes,
                    });
                    keyrings.len() - 1
                })
        });

        let stanza = Stanza {
            decl: f.decl,
            uri: without_credentials(url),
            suites: vec![f.suite.clone()],
            flat,
            components,
            arches,
            keyring,
            trusted: decl.allow_insecure,
            snapshot: f.snapshot.is_some(),
        };
        match stanzas.last_mut() {
            Some(last)
                if last.decl == stanza.decl
                    && last.uri == stanza.uri
                    && last.flat == stanza.flat
                    && last.components == stanza.components
                    && last.arches == stanza.arches
                    && last.keyring == stanza.keyring
                    && last.trusted == stanza.trusted
                    && last.snapshot == stanza.snapshot =>
            {
                if !last.suites.contains(&f.suite) {
                    last.suites.push(f.suite.clone());
                }
            }
            _ => stanzas.push(stanza),
        }
    }

    let mut sources = String::from(
        "# The archives this tree was built from, written by rdebootstrap\n\
         # (meta = [\"apt-lists:stage\"]) with their lists in /var/lib/apt/lists.\n",
    );
    for st in &stanzas {
        sources.push('\n');
        sources.push_str("Types: deb\n");
        sources.push_str(&format!("URIs: {}\n", st.uri));
        sources.push_str(&format!("Suites: {}\n", st.suites.join(" ")));
        if !st.flat {
            sources.push_str(&format!("Components: {}\n", st.components.join(" ")));
            sources.push_str(&format!("Architectures: {}\n", st.arches.join(" ")));
        }
        if let Some(k) = st.keyring {
            sources.push_str(&format!("Signed-By: /{KEYRING_DIR}/{}\n", keyrings[k].name));
        }
        if st.trusted {
            sources.push_str("Trusted: yes\n");
        }
        if st.snapshot {
            sources.push_str("Check-Valid-Until: no\n");
        }
    }
    Ok(Plan {
        sources,
        unverified,
        keyrings,
        lists,
    })
}

/// The keyring of an archive as apt is to read it: the manifest's
/// `signed-by`, else the vendor's shipped keyring; `None` when the archive
/// has neither (only possible after `--no-verify`).
fn keyring_bytes(
    manifest: &Manifest,
    mname: &str,
    decl: &ArchiveDecl,
) -> Result<Option<Vec<u8>>, AptListsError> {
    let bytes = match (&decl.signed_by, &decl.mirror) {
        (Some(SignedBy::File(p)), _) => {
            let path = manifest.dir().join(p);
            std::fs::read(&path).map_err(|source| AptListsError::KeyringFile {
                manifest: mname.to_owned(),
                line: decl.line,
                path,
                source,
            })?
        }
        (Some(SignedBy::Inline(k)), _) => {
            let mut k = k.trim().as_bytes().to_vec();
            k.push(b'\n');
            k
        }
        (None, Some(v)) => match v.strip_suffix("-security").unwrap_or(v).parse::<Vendor>() {
            Ok(vendor) => vendor.keyring_bytes().to_vec(),
            Err(_) => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    // A keyring apt cannot use would only fail later, inside the tree.
    Keyring::from_bytes(
        &bytes,
        &format!("the keyring of the archive at line {}", decl.line),
    )
    .map_err(|source| AptListsError::Keyring {
        manifest: mname.to_owned(),
        line: decl.line,
        source,
    })?;
    Ok(Some(bytes))
}

/// `url` without the `user:password@` of its authority: credentials are
/// not written into a tree (apt reads them from `/etc/apt/auth.conf.d`),
/// and apt leaves them out of list file names anyway.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// True for an ASCII-armored keyring (as [`Keyring::from_bytes`] decides).
fn is_armored(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| bytes[i..].starts_with(b"-----BEGIN PGP"))
}

/// The URI apt fetches `file` of `suite` from, for the archive at
/// `archive` (apt's `constructMetaIndexURI` and index targets): `file` is
/// a path as the Release file lists it (`InRelease`,
/// `main/binary-amd64/Packages`).
pub fn suite_file_uri(archive: &str, suite: &str, file: &str) -> String {
    let mut uri = archive.to_owned();
    if !uri.ends_with('/') {
        uri.push('/');
    }
    if suite == "/" {
        // A flat repository at the archive URL itself.
    } else if suite.ends_with('/') {
        uri.push_str(&quote(suite, b"+~ "));
    } else {
        uri.push_str("dists/");
        uri.push_str(&quote(suite, b"+~ "));
        uri.push('/');
    }
    uri.push_str(file);
    uri
}

/// The name apt gives the file fetched from `uri` in its lists directory
/// (apt's `URItoFileName`): the URI without scheme and credentials,
/// escaped, with `/` turned into `_`.
pub fn list_file_name(uri: &str) -> String {
    quote(&strip_uri(uri), b"\\|{}[]<>\"^~_=!@#$%^&*").replace('/', "_")
}

/// apt's `QuoteString`: the bytes of `bad`, `%`, and bytes up to space or
/// from DEL on, as `%xx` (lower-case hex).
fn quote(s: &str, bad: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if bad.contains(&b) || b == b'%' || b <= b' ' || b >= 0x7f {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// `uri` as apt prints it once scheme, user and password are cleared
/// (apt's `URI::CopyFrom` then `operator string`): `host[:port]/path`,
/// IPv6 brackets dropped, `/path` alone for a URI without a host.
fn strip_uri(uri: &str) -> String {
    let u = uri.as_bytes();
    let end = u.len();
    let colon = u.iter().position(|&b| b == b':').unwrap_or(end);
    // The single slash that ends the host part, '/' inside brackets
    // ignored.
    let mut slash = colon;
    if colon + 3 < end && u[colon + 1] == b'/' && u[colon + 2] == b'/' {
        slash += 3;
    }
    let mut in_bracket = false;
    while slash < end && (u[slash] != b'/' || in_bracket) {
        if u[slash] == b'[' {
            in_bracket = true;
        }
        if in_bracket && u[slash] == b']' {
            in_bracket = false;
        }
        slash += 1;
    }
    let slash = slash.min(end);
    let path = if slash < end { &uri[slash..] } else { "/" };

    let mut host = String::new();
    let mut first = if colon + 2 < end && u[colon + 1] == b'/' && u[colon + 2] == b'/' {
        colon + 3
    } else {
        colon + 1
    };
    if first < end {
        first = first.min(slash);
        let from = (first + 1).min(slash);
        // The last '@' between the host part's second byte and its end.
        match u[from..slash].iter().rposition(|&b| b == b'@') {
            Some(at) => host = uri[from + at + 1..slash].to_owned(),
            None if first < slash => host = uri[first..slash].to_owned(),
            None => {}
        }
    }
    // RFC 2732 brackets, then the port.
    let mut bare = String::with_capacity(host.len());
    let mut port_end = 0;
    let mut in_bracket = false;
    for c in host.chars() {
        match c {
            '[' => in_bracket = true,
            ']' if in_bracket => {
                in_bracket = false;
                port_end = bare.len();
            }
            c => bare.push(c),
        }
    }
    if in_bracket {
        bare.clear();
    }
    let mut port = 0u64;
    if let Some(pos) = bare.rfind(':').filter(|&p| p >= port_end) {
        let digits: String = bare[pos + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        port = digits.parse().unwrap_or(0);
        bare.truncate(pos);
    }

    let mut out = String::new();
    if !bare.is_empty() {
        out.push_str(&bare);
        if port != 0 {
            out.push_str(&format!(":{port}"));
        }
    }
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(path);
    out
}

/// The lists file name of each fetched file of a suite, for callers that
/// want to know where apt looks for them: `(path as the Release file
/// lists it, name in var/lib/apt/lists)`.
pub fn suite_list_names(url: &str, suite: &FetchedSuite) -> Vec<(String, String)> {
    let mut files: Vec<String> = match &suite.raw {
        RawRelease::InRelease(_) => vec!["InRelease".to_owned()],
        RawRelease::Release { signature, .. } => {
            let mut v = vec!["Release".to_owned()];
            if signature.is_some() {
                v.push("Release.gpg".to_owned());
            }
            v
        }
    };
    files.extend(
        suite
            .indices
            .iter()
            .map(|i| suite.location.packages_path(&i.component, &i.arch)),
    );
    files
        .into_iter()
        .map(|f| {
            let name = list_file_name(&suite_file_uri(url, suite.location.suite(), &f));
            (f, name)
        })
        .collect()
}

#[cfg(test)]
mod tests;
