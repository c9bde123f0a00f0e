//! Git-hosted imports: the system `git` (2.30 or later) as a subprocess,
//! and what it fetches kept in the cache.
//!
//! Layout, under the cache root (see [`crate::cache::Cache::default_dir`]):
//! - `git/<sha256 of the remote URL>/repo.git`: a bare partial clone
//!   (`--filter=blob:none`), so trees come with commits and a file's
//!   contents only when it is read;
//! - `git/<sha256 of the remote URL>/revs/<commit>/`: the files read at
//!   that commit, at their paths in the repository — the imported
//!   manifest, its locks, and what its `[[local]]` entries and local
//!   artifacts name. Files at a commit never change: each is written to a
//!   temporary file and renamed into place, so a reader never sees part
//!   of one, and two processes extracting the same commit agree.
//!
//! Credentials for `https://` and `http://` remotes come from `auth.toml`
//! by host ([`crate::auth::Auth`]) and reach git only through its
//! environment (`GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_<n>`,
//! `GIT_CONFIG_VALUE_<n>`): `http.extraHeader` carries a token or a login
//! and password, and a client certificate and key are written to files
//! only the user can read, in a temporary folder outside the cache,
//! removed when git is done (`http.sslCert`, `http.sslKey`). They are never
//! on git's command line, in the clone's configuration or in the cache.
//! `ssh://` is left to the user's ssh setup; git's own configuration
//! (`url.<base>.insteadOf`) applies.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::auth::Credential;
use crate::manifest::import::source::{GitRemote, GitRev, GitScheme, GitWant, RepoPath};

/// The oldest git used.
pub const MIN_GIT: (u32, u32) = (2, 30);

/// A git failure, naming the remote and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git (git {}.{} or later must be on PATH)", MIN_GIT.0, MIN_GIT.1)]
    Spawn {
        #[source]
        source: io::Error,
    },
    #[error("git {found} is too old: git imports need git {}.{} or later", MIN_GIT.0, MIN_GIT.1)]
    TooOld { found: String },
    #[error("'git --version' said '{said}', which is not a version")]
    Version { said: String },
    #[error("{remote}: git {what} failed ({status}): {stderr}")]
    Failed {
        remote: String,
        what: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{remote}: no branch or tag '{reference}'")]
    NoRef { remote: String, reference: String },
    #[error("{remote}: '{reference}' is not a commit id, branch or tag of the repository")]
    NoRev { remote: String, reference: String },
    #[error("{remote}: commit {rev} is not in the repository")]
    NoCommit { remote: String, rev: GitRev },
    #[error("{remote}: {path} at {rev} is not a file in the repository")]
    NoFile {
        remote: String,
        rev: GitRev,
        path: String,
    },
    #[error(
        "{remote}: {path} at {rev} is a {kind}, which an import cannot use (only regular files)"
    )]
    Unsupported {
        remote: String,
        rev: GitRev,
        path: String,
        kind: &'static str,
    },
    #[error("{remote}: '{path}' leaves the repository")]
    Escapes { remote: String, path: String },
    #[error("git cache {}: {what}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> GitError + 'a {
    move |source| GitError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Check that `git --version` is at least [`MIN_GIT`].
pub fn check_version() -> Result<(), GitError> {
    let out = Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| GitError::Spawn { source })?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let version = parse_version(&said).ok_or_else(|| GitError::Version { said: said.clone() })?;
    if version < MIN_GIT {
        return Err(GitError::TooOld {
            found: format!("{}.{}", version.0, version.1),
        });
    }
    Ok(())
}

/// `git version 2.47.3` (or `git version 2.39.2.windows.1`) → (2, 47).
fn parse_version(said: &str) -> Option<(u32, u32)> {
    let v = said.strip_prefix("git version ")?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

/// The git part of the cache, and the credentials for one remote.
#[derive(Debug, Clone)]
pub struct GitCache {
    root: PathBuf,
}

/// One remote's clone in the cache, with its credentials.
#[derive(Debug)]
pub struct Repo {
    remote: GitRemote,
    dir: PathBuf,
    credential: Option<Credential>,
}

impl GitCache {
    /// The git cache under the cache root `cache_root` (created on use).
    /// Checks the git version.
    pub fn new(cache_root: &Path) -> Result<GitCache, GitError> {
        check_version()?;
        Ok(GitCache {
            root: cache_root.join("git"),
        })
    }

    /// The folder of `remote`'s clone and extracts.
    pub fn remote_dir(&self, remote: &GitRemote) -> PathBuf {
        let digest = Sha256::digest(remote.as_str().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.root.join(hex)
    }

    /// `remote`'s clone, made (empty, with `remote` as its origin) if it
    /// is not there yet. `credential` is the `auth.toml` entry for its
    /// host, used for `https://` and `http://` only.
    pub fn repo(
        &self,
        remote: &GitRemote,
        credential: Option<Credential>,
    ) -> Result<Repo, GitError> {
        let top = self.remote_dir(remote);
        let dir = top.join("repo.git");
        let credential = match remote.scheme() {
            GitScheme::Https | GitScheme::Http => credential,
            GitScheme::Ssh | GitScheme::File => None,
        };
        let repo = Repo {
            remote: remote.clone(),
            dir,
            credential,
        };
        if !repo.dir.join("HEAD").exists() {
            fs::create_dir_all(&top).map_err(io_err("cannot create directory", &top))?;
            let tmp = unique(&top, "repo");
            let r = repo.init_at(&tmp);
            if let Err(e) = r {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
            if let Err(e) = fs::rename(&tmp, &repo.dir) {
                let _ = fs::remove_dir_all(&tmp);
                // Another process made it first.
                if !repo.dir.join("HEAD").exists() {
                    return Err(io_err("cannot move the new clone into place", &repo.dir)(e));
                }
            }
        }
        Ok(repo)
    }
}

/// A fresh name in `dir` for a temporary file or folder.
fn unique(dir: &Path, what: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    dir.join(format!(
        ".{what}.{}.{}.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Bytes per second below which git's HTTP transfer counts as stalled.
const LOW_SPEED_LIMIT: &str = "1000";
/// Seconds a transfer may stay below [`LOW_SPEED_LIMIT`] before git
/// gives up.
const LOW_SPEED_TIME: &str = "60";

/// The `GIT_CONFIG_*` environment for a credential, and the folder of
/// the key files it needs (removed on drop).
struct GitEnv {
    vars: Vec<(String, OsString)>,
    _keys: Option<KeyDir>,
}

/// A private temporary folder holding a client certificate and key.
struct KeyDir(PathBuf);

impl Drop for KeyDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `Authorization` header value for a credential, if it is one.
fn auth_header(c: &Credential) -> Option<String> {
    match c {
        Credential::Token(t) => Some(format!("Authorization: Bearer {}", t.expose())),
        Credential::Basic { login, password } => Some(format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{login}:{}", password.expose()))
        )),
        Credential::Mtls { .. } => None,
    }
}

/// Write a client certificate and key to a new folder only the user can
/// read.
fn key_files(cert: &str, key: &str) -> Result<(KeyDir, PathBuf, PathBuf), GitError> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let dir = unique(&std::env::temp_dir(), "rdebootstrap-git-tls");
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(io_err("cannot create a private folder", &dir))?;
    let keys = KeyDir(dir.clone());
    let write = |name: &str, pem: &str| -> Result<PathBuf, GitError> {
        let p = dir.join(name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
            .map_err(io_err("cannot create", &p))?;
        f.write_all(pem.as_bytes())
            .map_err(io_err("cannot write", &p))?;
        Ok(p)
    };
    let c = write("client.crt", cert)?;
    let k = write("client.key", key)?;
    Ok((keys, c, k))
}

impl GitEnv {
    fn new(credential: Option<&Credential>) -> Result<GitEnv, GitError> {
        let mut pairs: Vec<(&str, OsString)> = Vec::new();
        let mut keys = None;
        if let Some(c) = credential {
            // The header goes to every URL of the request, a redirect's
            // too: with credentials, no redirects.
            pairs.push(("http.followRedirects", "false".into()));
            if let Some(h) = auth_header(c) {
                pairs.push(("http.extraHeader", h.into()));
            }
            if let Credential::Mtls { cert, key } = c {
                let (dir, c, k) = key_files(cert.expose(), key.expose())?;
                pairs.push(("http.sslCert", c.into()));
                pairs.push(("http.sslKey", k.into()));
                keys = Some(dir);
            }
        }
        let mut vars = vec![("GIT_TERMINAL_PROMPT".to_owned(), OsString::from("0"))];
        // A server that stops sending must not hang the update: git gives
        // up on an HTTP transfer slower than 1000 bytes/s for 60 s, unless
        // the user's environment says otherwise.
        for (k, v) in [
            ("GIT_HTTP_LOW_SPEED_LIMIT", LOW_SPEED_LIMIT),
            ("GIT_HTTP_LOW_SPEED_TIME", LOW_SPEED_TIME),
        ] {
            if std::env::var_os(k).is_none() {
                vars.push((k.to_owned(), v.into()));
            }
        }
        vars.extend([(
            "GIT_CONFIG_COUNT".to_owned(),
            pairs.len().to_string().into(),
        )]);
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            vars.push((format!("GIT_CONFIG_KEY_{i}"), k.into()));
            vars.push((format!("GIT_CONFIG_VALUE_{i}"), v));
        }
        Ok(GitEnv { vars, _keys: keys })
    }
}

impl Repo {
    /// The clone's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `git init --bare` at `at`, with `origin` a promisor remote
    /// fetching without blobs.
    fn init_at(&self, at: &Path) -> Result<(), GitError> {
        let at_os = at.as_os_str().to_owned();
        self.git_in(
            None,
            &[
                OsString::from("init"),
                "--quiet".into(),
                "--bare".into(),
                at_os,
            ],
            "init",
        )?;
        for (k, v) in [
            ("remote.origin.url", self.remote.as_str()),
            ("remote.origin.promisor", "true"),
            ("remote.origin.partialclonefilter", "blob:none"),
            ("extensions.partialclone", "origin"),
        ] {
            self.git_in(Some(at), &["config".into(), k.into(), v.into()], "config")?;
        }
        Ok(())
    }

    /// Run git in the clone (or, with `None`, nowhere in particular),
    /// with the credential's environment; its standard output.
    fn git_in(
        &self,
        dir: Option<&Path>,
        args: &[OsString],
        what: &str,
    ) -> Result<Vec<u8>, GitError> {
        self.git_env(dir, args, what, &[])
    }

    /// [`Repo::git_in`] with more environment.
    fn git_env(
        &self,
        dir: Option<&Path>,
        args: &[OsString],
        what: &str,
        more: &[(&str, &str)],
    ) -> Result<Vec<u8>, GitError> {
        let env = GitEnv::new(self.credential.as_ref())?;
        let mut cmd = Command::new("git");
        if let Some(d) = dir {
            cmd.arg("-C").arg(d);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .envs(env.vars.iter().map(|(k, v)| (k, v)))
            .envs(more.iter().copied());
        let out = cmd.output().map_err(|source| GitError::Spawn { source })?;
        if !out.status.success() {
            return Err(GitError::Failed {
                remote: self.remote.to_string(),
                what: what.to_owned(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(out.stdout)
    }

    fn git(&self, args: &[&str], what: &str) -> Result<Vec<u8>, GitError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        self.git_in(Some(&self.dir), &args, what)
    }

    /// The commit a branch or tag names on the remote (`git ls-remote`):
    /// a branch before a tag, an annotated tag peeled to its commit.
    pub fn resolve_ref(&self, reference: &str) -> Result<GitRev, GitError> {
        let out = self.git(
            &[
                "ls-remote",
                "origin",
                &format!("refs/heads/{reference}"),
                &format!("refs/tags/{reference}"),
                &format!("refs/tags/{reference}^{{}}"),
            ],
            "ls-remote",
        )?;
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\t')).collect();
        let find = |name: String| {
            lines
                .iter()
                .find(|(_, n)| *n == name)
                .and_then(|(sha, _)| GitRev::parse(sha).ok())
        };
        find(format!("refs/heads/{reference}"))
            .or_else(|| find(format!("refs/tags/{reference}^{{}}")))
            .or_else(|| find(format!("refs/tags/{reference}")))
            .ok_or_else(|| GitError::NoRef {
                remote: self.remote.to_string(),
                reference: reference.to_owned(),
            })
    }

    /// The commit a URL's `?rev=` or `?ref=` names.
    pub fn resolve(&self, want: &GitWant) -> Result<GitRev, GitError> {
        match want {
            GitWant::Ref(r) => self.resolve_ref(r),
            GitWant::Rev(r) => match GitRev::parse(r) {
                Ok(rev) => Ok(rev),
                Err(_) => self.resolve_ref(r).map_err(|e| match e {
                    GitError::NoRef { remote, reference } => GitError::NoRev { remote, reference },
                    e => e,
                }),
            },
        }
    }

    /// Make sure commit `rev` (and its trees) is in the clone.
    pub fn fetch(&self, rev: &GitRev) -> Result<(), GitError> {
        if self.has_commit(rev) {
            return Ok(());
        }
        let by_id = self.git_no_lazy(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--filter=blob:none",
                "origin",
                rev.as_str(),
            ],
            "fetch",
        );
        if by_id.is_err() || !self.has_commit(rev) {
            // A server that gives no unadvertised commit: every branch and tag.
            self.git_no_lazy(
                &[
                    "fetch",
                    "--quiet",
                    "--filter=blob:none",
                    "origin",
                    "+refs/heads/*:refs/remotes/origin/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                "fetch",
            )?;
        }
        if !self.has_commit(rev) {
            return Err(GitError::NoCommit {
                remote: self.remote.to_string(),
                rev: rev.clone(),
            });
        }
        Ok(())
    }

    /// [`Repo::git`] where a missing object is not fetched on the side (a
    /// fetch over git's dumb HTTP protocol would otherwise fetch lazily
    /// from itself).
    fn git_no_lazy(&self, args: &[&str], what: &str) -> Result<Vec<u8>, GitError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        self.git_env(Some(&self.dir), &args, what, &[("GIT_NO_LAZY_FETCH", "1")])
    }

    /// Whether the clone has commit `rev`, without fetching it: a missing
    /// object is fetched from a promisor remote unless `GIT_NO_LAZY_FETCH`
    /// says not to (git 2.44 and later; an older git fetches it).
    fn has_commit(&self, rev: &GitRev) -> bool {
        let args = [
            OsString::from("cat-file"),
            "-e".into(),
            format!("{rev}^{{commit}}").into(),
        ];
        self.git_env(
            Some(&self.dir),
            &args,
            "cat-file",
            &[("GIT_NO_LAZY_FETCH", "1")],
        )
        .is_ok()
    }

    /// The regular files at or under `path` at `rev` (`path` itself when
    /// it is a file); empty when there is nothing there.
    pub fn files(&self, rev: &GitRev, path: &RepoPath) -> Result<Vec<RepoPath>, GitError> {
        let out = self.git(
            &[
                "ls-tree",
                "-r",
                "-z",
                "--full-tree",
                rev.as_str(),
                "--",
                path.as_str(),
            ],
            "ls-tree",
        )?;
        let mut files = Vec::new();
        for entry in out.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((meta, name)) = entry.split_once('\t') else {
                continue;
            };
            let mode = meta.split(' ').next().unwrap_or("");
            let kind = match mode {
                "100644" | "100755" => None,
                "120000" => Some("symbolic link"),
                "160000" => Some("submodule"),
                _ => Some("file of unknown mode"),
            };
            if let Some(kind) = kind {
                return Err(GitError::Unsupported {
                    remote: self.remote.to_string(),
                    rev: rev.clone(),
                    path: name.to_owned(),
                    kind,
                });
            }
            if name == path.as_str() || name.starts_with(&format!("{path}/")) {
                files.push(RepoPath::parse(name).map_err(|_| GitError::Escapes {
                    remote: self.remote.to_string(),
                    path: name.to_owned(),
                })?);
            }
        }
        Ok(files)
    }

    /// The regular files directly in the folder `dir` at `rev` (`""`: the
    /// repository's top).
    pub fn list(&self, rev: &GitRev, dir: &str) -> Result<Vec<RepoPath>, GitError> {
        let mut args = vec!["ls-tree", "-z", "--full-tree", rev.as_str()];
        let spec = format!("{dir}/");
        if !dir.is_empty() {
            args.extend(["--", spec.as_str()]);
        }
        let out = self.git(&args, "ls-tree")?;
        Ok(out
            .split(|b| *b == 0)
            .filter_map(|e| {
                let e = std::str::from_utf8(e).ok()?;
                let (meta, name) = e.split_once('\t')?;
                matches!(meta.split(' ').next(), Some("100644" | "100755"))
                    .then(|| RepoPath::parse(name).ok())
                    .flatten()
            })
            .collect())
    }

    /// The remote it is a clone of.
    pub fn remote(&self) -> &GitRemote {
        &self.remote
    }

    /// The folder of `rev`'s extract.
    pub fn rev_dir(&self, rev: &GitRev) -> PathBuf {
        self.dir
            .parent()
            .expect("repo.git is in the remote's folder")
            .join("revs")
            .join(rev.as_str())
    }

    /// Copy the file `path` at `rev` into `rev`'s extract (fetching its
    /// contents if the clone lacks them), unless it is there already.
    /// Returns its path in the extract.
    pub fn extract(&self, rev: &GitRev, path: &RepoPath) -> Result<PathBuf, GitError> {
        let dest = self.rev_dir(rev).join(path.as_str());
        if dest.is_file() {
            return Ok(dest);
        }
        let bytes = self
            .git(&["cat-file", "blob", &format!("{rev}:{path}")], "cat-file")
            .map_err(|e| match e {
                GitError::Failed { .. } => GitError::NoFile {
                    remote: self.remote.to_string(),
                    rev: rev.clone(),
                    path: path.to_string(),
                },
                e => e,
            })?;
        let parent = dest.parent().expect("a file in the extract");
        fs::create_dir_all(parent).map_err(io_err("cannot create directory", parent))?;
        let tmp = unique(parent, "file");
        let r = fs::write(&tmp, &bytes).and_then(|()| fs::rename(&tmp, &dest));
        if let Err(e) = r {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("cannot write", &dest)(e));
        }
        Ok(dest)
    }
}

/// `rel` (relative to the folder `dir` of the repository, `/`-separated)
/// as a path in the repository; `None` when it leaves it or is absolute.
pub fn join_in_repo(dir: &str, rel: &str) -> Option<RepoPath> {
    if rel.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    RepoPath::parse(&parts.join("/")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("git version 2.47.3"), Some((2, 47)));
        assert_eq!(parse_version("git version 2.39.2.windows.1"), Some((2, 39)));
        assert_eq!(parse_version("git version 2.30.0-rc1"), Some((2, 30)));
        assert!(parse_version("hub version 2").is_none());
        assert!((2, 29) < MIN_GIT && (2, 30) >= MIN_GIT && (3, 0) > MIN_GIT);
    }

    #[test]
    fn paths_in_the_repo() {
        let j = |d: &str, r: &str| join_in_repo(d, r).map(|p| p.as_str().to_owned());
        assert_eq!(
            j("system", "debs/a.deb").as_deref(),
            Some("system/debs/a.deb")
        );
        assert_eq!(j("system", "../shared/x").as_deref(), Some("shared/x"));
        assert_eq!(j("", "./a/./b").as_deref(), Some("a/b"));
        assert_eq!(j("system", "../../x"), None);
        assert_eq!(j("", "/etc/passwd"), None);
        assert_eq!(j("a", ".."), None);
    }

    #[test]
    fn credentials_go_to_the_environment() {
        let env =
            GitEnv::new(Some(&Credential::Token(crate::auth::Secret::new("s3cret")))).unwrap();
        let get = |k: &str| {
            env.vars
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("GIT_CONFIG_COUNT"), Some("2".into()));
        assert_eq!(get("GIT_TERMINAL_PROMPT"), Some("0".into()));
        if std::env::var_os("GIT_HTTP_LOW_SPEED_TIME").is_none() {
            assert_eq!(get("GIT_HTTP_LOW_SPEED_TIME"), Some("60".into()));
        }
        assert_eq!(get("GIT_CONFIG_KEY_0"), Some("http.followRedirects".into()));
        assert_eq!(get("GIT_CONFIG_VALUE_0"), Some("false".into()));
        assert_eq!(get("GIT_CONFIG_KEY_1"), Some("http.extraHeader".into()));
        assert_eq!(
            get("GIT_CONFIG_VALUE_1"),
            Some("Authorization: Bearer s3cret".into())
        );
        let basic = Credential::Basic {
            login: "u".into(),
            password: crate::auth::Secret::new("p"),
        };
        assert_eq!(auth_header(&basic).unwrap(), "Authorization: Basic dTpw");
        let mtls = Credential::Mtls {
            cert: crate::auth::Secret::new("CERT"),
            key: crate::auth::Secret::new("KEY"),
        };
        let env = GitEnv::new(Some(&mtls)).unwrap();
        let key = PathBuf::from(get_of(&env, "GIT_CONFIG_VALUE_2"));
        assert_eq!(fs::read_to_string(&key).unwrap(), "KEY");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(env);
        assert!(!key.exists());
    }

    fn get_of(env: &GitEnv, k: &str) -> OsString {
        env.vars.iter().find(|(n, _)| n == k).unwrap().1.clone()
    }
}
