//! Where an import comes from: what `rdebootstrap import` and `init
//! --import` accept, and the typed parts of `[import.git]`.
//!
//! Six forms are accepted ([`ACCEPTED_FORMS`]):
//! - `git+https://HOST/REPO?rev=REV#PATH` or `?ref=REF#PATH`;
//! - `git+http://…`, `git+ssh://[USER@]HOST/REPO…` and
//!   `git+file:///DIR/REPO…`, with the same query and fragment;
//! - a local path to a manifest, relative or absolute;
//! - a `file:///ABSOLUTE/PATH` URL to a manifest.
//!
//! `rev=` is any revision git resolves (a commit id, a tag, a branch),
//! pinned once; `ref=` is a branch or tag that `update --locals` follows.
//! Exactly one of them is given; the fragment is the manifest's path in
//! the repository. Everything else — `git@host:path`, `https://` or
//! `ssh://` without `git+`, `host/path?rev=…#…`, other schemes, other
//! query keys, a password in the URL — is refused by [`ImportSource::parse`]
//! before anything is read or fetched.

use std::fmt;
use std::path::PathBuf;

use reqwest::Url;

/// The accepted forms, for messages refusing others.
pub const ACCEPTED_FORMS: &str = "a local path to a Manifest.toml (relative or absolute), file:///ABSOLUTE/PATH, or git+https://, git+http://, git+ssh:// or git+file:/// URLs of a repository with ?rev=REV or ?ref=BRANCH-OR-TAG and #PATH-IN-REPO (as 'git+https://host/org/repo.git?ref=main#system/Manifest.toml')";

/// A transport git may use for an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GitScheme {
    Https,
    Http,
    Ssh,
    File,
}

impl GitScheme {
    /// The URL scheme, as in `[import.git] remote`.
    pub fn name(self) -> &'static str {
        match self {
            GitScheme::Https => "https",
            GitScheme::Http => "http",
            GitScheme::Ssh => "ssh",
            GitScheme::File => "file",
        }
    }

    fn from_name(s: &str) -> Option<GitScheme> {
        Some(match s {
            "https" => GitScheme::Https,
            "http" => GitScheme::Http,
            "ssh" => GitScheme::Ssh,
            "file" => GitScheme::File,
            _ => return None,
        })
    }
}

/// A repository URL as git is given it (`https://host/repo`,
/// `ssh://git@host/repo`, `file:///srv/repo.git`): the `remote` of
/// `[import.git]`. It carries no password, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GitRemote {
    scheme: GitScheme,
    url: Url,
}

impl GitRemote {
    /// Check a `remote` URL (no `git+` prefix).
    pub fn parse(s: &str) -> Result<GitRemote, SourceError> {
        let bad = |reason: SourceProblem| SourceError {
            given: s.to_owned(),
            problem: reason,
        };
        let url = Url::parse(s).map_err(|e| bad(SourceProblem::BadUrl(e.to_string())))?;
        let scheme = GitScheme::from_name(url.scheme())
            .ok_or_else(|| bad(SourceProblem::Scheme(url.scheme().to_owned())))?;
        if url.password().is_some() {
            return Err(bad(SourceProblem::Password));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(SourceProblem::RemoteQuery));
        }
        match scheme {
            GitScheme::File => {
                if url.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(bad(SourceProblem::FileHost));
                }
            }
            _ => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad(SourceProblem::NoHost));
                }
            }
        }
        if url.path().trim_matches('/').is_empty() {
            return Err(bad(SourceProblem::NoRepo));
        }
        Ok(GitRemote { scheme, url })
    }

    pub fn scheme(&self) -> GitScheme {
        self.scheme
    }

    /// The host, for credentials from `auth.toml` (`None` for `file://`).
    pub fn host(&self) -> Option<&str> {
        self.url.host_str().filter(|h| !h.is_empty())
    }

    /// The URL, as written in `[import.git] remote` and given to git.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Display for GitRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A full commit id: 40 lowercase hex digits, as `[import.git] rev` and
/// the lock's `imported-git-rev` hold it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GitRev(String);

impl GitRev {
    /// Check a commit id.
    pub fn parse(s: &str) -> Result<GitRev, BadRev> {
        if s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(GitRev(s.to_owned()))
        } else {
            Err(BadRev {
                given: s.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GitRev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Not a full commit id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not a full commit id (40 lowercase hex digits)")]
pub struct BadRev {
    pub given: String,
}

/// A path inside a repository: relative, `/`-separated, with no empty,
/// `.` or `..` component.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoPath(String);

impl RepoPath {
    /// Check an in-repository path.
    pub fn parse(s: &str) -> Result<RepoPath, BadRepoPath> {
        let ok = !s.is_empty()
            && s.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
        if ok {
            Ok(RepoPath(s.to_owned()))
        } else {
            Err(BadRepoPath {
                given: s.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The folder holding it (`""` at the repository's top).
    pub fn parent(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(d, _)| d)
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Not an in-repository path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not a path in a repository (relative, '/'-separated, without empty, '.' or '..' parts)")]
pub struct BadRepoPath {
    pub given: String,
}

/// What a git URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitWant {
    /// `?rev=`: a revision resolved once and pinned.
    Rev(String),
    /// `?ref=`: a branch or tag, resolved now and again by `update
    /// --locals`.
    Ref(String),
}

/// A `git+SCHEME://` import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    pub remote: GitRemote,
    pub want: GitWant,
    /// The imported manifest's path in the repository.
    pub path: RepoPath,
}

/// A resolved git import: what `[import.git]` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitPin {
    pub remote: GitRemote,
    /// The commit.
    pub rev: GitRev,
    /// The branch or tag followed by `update --locals`, if any.
    pub reference: Option<String>,
    pub path: RepoPath,
}

/// An import source as `rdebootstrap import` is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    /// A local path (from a path or a `file://` URL).
    Path(PathBuf),
    Git(GitSource),
}

/// Why a source is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not an accepted import source: {problem}; accepted: {ACCEPTED_FORMS}")]
pub struct SourceError {
    pub given: String,
    pub problem: SourceProblem,
}

/// What is wrong with a refused source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceProblem {
    #[error("not a URL ({0})")]
    BadUrl(String),
    #[error("git URLs are written git+https://, git+http://, git+ssh:// or git+file://, not with scheme '{0}'")]
    Scheme(String),
    #[error("'{0}://' is not accepted: a git repository is written git+{0}://")]
    NoGitPrefix(String),
    #[error("scheme '{0}' is not accepted")]
    OtherScheme(String),
    #[error("scp-like 'user@host:path' is not accepted: write git+ssh://user@host/path")]
    ScpLike,
    #[error("a path with '?rev=' or '?ref=' is not accepted: a git repository is written git+SCHEME://HOST/REPO?...")]
    BarePathQuery,
    #[error("a password in the URL is not accepted: credentials come from auth.toml")]
    Password,
    #[error("a repository URL has no query or fragment")]
    RemoteQuery,
    #[error("a file:// URL names no host")]
    FileHost,
    #[error("a file:// URL to a manifest is absolute (file:///PATH) and has no query or fragment")]
    FileUrl,
    #[error("the URL names no host")]
    NoHost,
    #[error("the URL names no repository path")]
    NoRepo,
    #[error("give exactly one of ?rev=REV and ?ref=BRANCH-OR-TAG")]
    RevOrRef,
    #[error("query key '{0}' is not accepted (only rev and ref)")]
    QueryKey(String),
    #[error("the revision or ref is empty")]
    EmptyWant,
    #[error("the fragment (#PATH-IN-REPO) naming the manifest in the repository is missing")]
    NoFragment,
    #[error("percent-escapes are not accepted in #PATH-IN-REPO")]
    EscapedFragment,
    #[error(transparent)]
    RepoPath(#[from] BadRepoPath),
}

impl ImportSource {
    /// Parse one of the accepted forms; refuse anything else.
    pub fn parse(given: &str) -> Result<ImportSource, SourceError> {
        let bad = |problem: SourceProblem| SourceError {
            given: given.to_owned(),
            problem,
        };
        if let Some((scheme, _)) = given.split_once("://") {
            return match scheme {
                "file" => file_url(given).map(ImportSource::Path).map_err(bad),
                s if s.starts_with("git+") => git_url(given).map(ImportSource::Git),
                s @ ("https" | "http" | "ssh") => Err(bad(SourceProblem::NoGitPrefix(s.into()))),
                s => Err(bad(SourceProblem::OtherScheme(s.into()))),
            };
        }
        local_path(given).map(ImportSource::Path).map_err(bad)
    }
}

/// A local path: refused when it is spelt like a remote (`user@host:path`,
/// `host/path?rev=…`).
fn local_path(given: &str) -> Result<PathBuf, SourceProblem> {
    if given.starts_with("git+") {
        return Err(SourceProblem::Scheme(
            given.split(':').next().unwrap_or(given).to_owned(),
        ));
    }
    if let Some((head, _)) = given.split_once(':') {
        if !head.contains('/') && head.contains('@') {
            return Err(SourceProblem::ScpLike);
        }
    }
    if given.contains("?rev=") || given.contains("?ref=") {
        return Err(SourceProblem::BarePathQuery);
    }
    Ok(PathBuf::from(given))
}

/// `file:///ABSOLUTE/PATH` to a manifest.
fn file_url(given: &str) -> Result<PathBuf, SourceProblem> {
    let url = Url::parse(given).map_err(|e| SourceProblem::BadUrl(e.to_string()))?;
    if url.host_str().is_some_and(|h| !h.is_empty()) {
        return Err(SourceProblem::FileHost);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SourceProblem::FileUrl);
    }
    url.to_file_path().map_err(|()| SourceProblem::FileUrl)
}

/// `git+SCHEME://…?rev=…|ref=…#PATH`.
fn git_url(given: &str) -> Result<GitSource, SourceError> {
    let bad = |problem: SourceProblem| SourceError {
        given: given.to_owned(),
        problem,
    };
    let rest = given.strip_prefix("git+").expect("checked by the caller");
    let url = Url::parse(rest).map_err(|e| bad(SourceProblem::BadUrl(e.to_string())))?;
    let mut want = None;
    for (k, v) in url.query_pairs() {
        let w = match &*k {
            "rev" => GitWant::Rev(v.into_owned()),
            "ref" => GitWant::Ref(v.into_owned()),
            other => return Err(bad(SourceProblem::QueryKey(other.to_owned()))),
        };
        if matches!(&w, GitWant::Rev(s) | GitWant::Ref(s) if s.is_empty()) {
            return Err(bad(SourceProblem::EmptyWant));
        }
        if want.replace(w).is_some() {
            return Err(bad(SourceProblem::RevOrRef));
        }
    }
    let want = want.ok_or_else(|| bad(SourceProblem::RevOrRef))?;
    let fragment = url
        .fragment()
        .ok_or_else(|| bad(SourceProblem::NoFragment))?;
    if fragment.contains('%') {
        return Err(bad(SourceProblem::EscapedFragment));
    }
    let path = RepoPath::parse(fragment).map_err(|e| bad(e.into()))?;
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    let remote = GitRemote::parse(bare.as_str()).map_err(|e| SourceError {
        given: given.to_owned(),
        problem: e.problem,
    })?;
    Ok(GitSource { remote, want, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(s: &str) -> GitSource {
        match ImportSource::parse(s).unwrap() {
            ImportSource::Git(g) => g,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn refused(s: &str) -> String {
        let e = ImportSource::parse(s).unwrap_err().to_string();
        assert!(e.contains(ACCEPTED_FORMS), "{e}");
        e
    }

    #[test]
    fn git_https_with_rev() {
        let g = git("git+https://git.test/org/repo.git?rev=v1.2.3#system/Manifest.toml");
        assert_eq!(g.remote.as_str(), "https://git.test/org/repo.git");
        assert_eq!(g.remote.scheme(), GitScheme::Https);
        assert_eq!(g.remote.host(), Some("git.test"));
        assert_eq!(g.want, GitWant::Rev("v1.2.3".into()));
        assert_eq!(g.path.as_str(), "system/Manifest.toml");
        assert_eq!(g.path.parent(), "system");
    }

    #[test]
    fn git_http_with_ref() {
        let g = git("git+http://127.0.0.1:8080/org/repo?ref=stable#Manifest.toml");
        assert_eq!(g.remote.as_str(), "http://127.0.0.1:8080/org/repo");
        assert_eq!(g.remote.scheme(), GitScheme::Http);
        assert_eq!(g.want, GitWant::Ref("stable".into()));
        assert_eq!(g.path.parent(), "");
    }

    #[test]
    fn git_ssh_keeps_the_user() {
        let g = git("git+ssh://git@127.0.0.1/org/repo.git?ref=main#system/Manifest.toml");
        assert_eq!(g.remote.as_str(), "ssh://git@127.0.0.1/org/repo.git");
        assert_eq!(g.remote.scheme(), GitScheme::Ssh);
    }

    #[test]
    fn git_file() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let g = git(&format!(
            "git+file:///srv/git/repo.git?rev={sha}#a/b/Manifest.toml"
        ));
        assert_eq!(g.remote.as_str(), "file:///srv/git/repo.git");
        assert_eq!(g.remote.host(), None);
        assert_eq!(g.want, GitWant::Rev(sha.into()));
    }

    #[test]
    fn local_paths_and_file_urls() {
        for p in [
            "../base/Manifest.toml",
            "/srv/base.toml",
            "Manifest.toml",
            "a#b/c.toml",
        ] {
            assert_eq!(
                ImportSource::parse(p).unwrap(),
                ImportSource::Path(p.into())
            );
        }
        assert_eq!(
            ImportSource::parse("file:///srv/manifests/base.toml").unwrap(),
            ImportSource::Path("/srv/manifests/base.toml".into())
        );
        assert_eq!(
            ImportSource::parse("file:///srv/my%20manifests/base.toml").unwrap(),
            ImportSource::Path("/srv/my manifests/base.toml".into())
        );
    }

    #[test]
    fn refused_forms() {
        let cases = [
            ("git@127.0.0.1:org/repo.git", "scp-like"),
            ("https://127.0.0.1/org/repo?ref=main#M.toml", "git+https://"),
            ("ssh://git@127.0.0.1/org/repo?ref=main#M.toml", "git+ssh://"),
            ("127.0.0.1/org/repo?rev=abc#M.toml", "'?rev='"),
            ("git+ftp://127.0.0.1/repo?ref=main#M.toml", "scheme 'ftp'"),
            ("ftp://127.0.0.1/M.toml", "scheme 'ftp'"),
            ("git+https://127.0.0.1/repo#M.toml", "exactly one"),
            (
                "git+https://127.0.0.1/repo?rev=a&ref=b#M.toml",
                "exactly one",
            ),
            (
                "git+https://127.0.0.1/repo?rev=a&rev=b#M.toml",
                "exactly one",
            ),
            ("git+https://127.0.0.1/repo?rev=#M.toml", "empty"),
            ("git+https://127.0.0.1/repo?branch=main#M.toml", "'branch'"),
            ("git+https://127.0.0.1/repo?ref=main", "fragment"),
            (
                "git+https://127.0.0.1/repo?ref=main#../M.toml",
                "not a path in a repository",
            ),
            (
                "git+https://127.0.0.1/repo?ref=main#/M.toml",
                "not a path in a repository",
            ),
            ("git+https://127.0.0.1/repo?ref=main#a%20b.toml", "percent"),
            (
                "git+https://u:secret@127.0.0.1/repo?ref=main#M.toml",
                "password",
            ),
            ("git+https:///repo?ref=main#M.toml", "host"),
            ("git+https://127.0.0.1/?ref=main#M.toml", "repository path"),
            ("git+file://host/srv/repo?ref=main#M.toml", "no host"),
            ("file://host/srv/M.toml", "no host"),
            ("file:///srv/M.toml#x", "no query or fragment"),
            ("git+/srv/repo", "scheme"),
        ];
        for (s, want) in cases {
            let e = refused(s);
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn remotes_and_revs() {
        assert!(GitRemote::parse("https://127.0.0.1/org/repo").is_ok());
        assert!(GitRemote::parse("git+https://127.0.0.1/org/repo").is_err());
        assert!(GitRemote::parse("https://127.0.0.1/org/repo?x=1").is_err());
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(GitRev::parse(sha).unwrap().as_str(), sha);
        assert!(GitRev::parse(&sha.to_uppercase()).is_err());
        assert!(GitRev::parse("abc").is_err());
    }
}
