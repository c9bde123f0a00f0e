//! Credentials for private archives: `auth.toml` next to the manifest, a
//! file named with `-a/--auth file:PATH` (or a plain path), or HashiCorp
//! Vault with `--auth vault:MOUNT/PATH`.
//!
//! ```toml
//! [[auth]]
//! host = "deb.example.com"
//! login = "user"
//! password.env = "DEB_PASSWORD"     # or password = "inline", .cmd, .file, .path
//!
//! [[auth]]
//! host = "other.example.com"
//! token.cmd = "pass show deb-token" # run with the auth file's folder as cwd
//!
//! [[auth]]
//! host = "tls.example.com"
//! cert = "client.crt"               # path relative to the auth file, or inline PEM
//! key.file = "client.key"
//! ```
//!
//! In Vault each host has one secret at `<mount>/<path>/<host>` holding
//! `{"type": "basic", "login": …, "password": …}`, `{"type": "token",
//! "token": …}` or `{"type": "mtls", "cert": PEM, "key": PEM}`; `VAULT_ADDR`,
//! `VAULT_TOKEN`, `VAULT_CACERT` and `VAULT_SKIP_VERIFY` configure the client.
//!
//! Secrets never appear in messages: [`Secret`] prints as `<redacted>`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value; its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to authenticate to one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        login: String,
        password: Secret,
    },
    Token(Secret),
    /// A client certificate and its key, both PEM.
    Mtls {
        cert: Secret,
        key: Secret,
    },
}

/// Where credentials come from (`-a/--auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSource {
    File(PathBuf),
    /// `MOUNT/PATH` in Vault.
    Vault(String),
}

impl std::str::FromStr for AuthSource {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        if let Some(p) = s.strip_prefix("vault:") {
            let p = p.trim_matches('/');
            if !p.contains('/') {
                return Err(AuthError::new(s, None, None, AuthErrorKind::BadVaultPath));
            }
            return Ok(AuthSource::Vault(p.to_owned()));
        }
        Ok(AuthSource::File(PathBuf::from(
            s.strip_prefix("file:").unwrap_or(s),
        )))
    }
}

/// An auth problem: names the file (or Vault path), the line and the host,
/// never a secret.
///
/// The message holds what is wrong ([`AuthErrorKind`]); its source is the
/// kind's own source, so an error chain does not say it twice.
#[derive(Debug)]
pub struct AuthError {
    pub origin: String,
    pub line: Option<usize>,
    pub host: Option<String>,
    pub kind: Box<AuthErrorKind>,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        if let Some(h) = &self.host {
            write!(f, " (host {h})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.kind)
    }
}

impl AuthError {
    fn new(origin: &str, line: Option<usize>, host: Option<&str>, kind: AuthErrorKind) -> Self {
        AuthError {
            origin: origin.to_owned(),
            line,
            host: host.map(str::to_owned),
            kind: Box::new(kind),
        }
    }
}

/// What is wrong.
#[derive(Debug, thiserror::Error)]
pub enum AuthErrorKind {
    #[error("cannot read the file")]
    Read(#[source] std::io::Error),
    #[error("not valid TOML")]
    Toml(#[source] toml_edit::TomlError),
    #[error("expected [[auth]] entries")]
    NotAuthTable,
    #[error("missing 'host'")]
    NoHost,
    #[error("give exactly one of: login + password, token, or cert + key")]
    Shape,
    #[error("unknown key '{0}'")]
    UnknownKey(String),
    #[error("'{0}' must be a string or a table with one of env, cmd, file, path")]
    BadSecret(String),
    #[error("environment variable {var} (for '{field}') is not set")]
    MissingEnv { field: String, var: String },
    #[error("command for '{field}' failed ({status})")]
    CommandFailed { field: String, status: String },
    #[error("cannot run the command for '{field}'")]
    Command {
        field: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {} (for '{field}')", path.display())]
    SecretFile {
        field: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("expected vault:MOUNT/PATH")]
    BadVaultPath,
    #[error("VAULT_ADDR and VAULT_TOKEN must be set to read credentials from Vault")]
    VaultEnv,
    #[error("cannot read VAULT_CACERT")]
    VaultCa(#[source] std::io::Error),
    #[error("Vault request failed")]
    Vault(#[source] reqwest::Error),
    #[error("Vault answered HTTP {0}")]
    VaultStatus(u16),
    #[error(
        "the Vault secret is not {{\"type\": \"basic\"|\"token\"|\"mtls\", ...}} with its fields"
    )]
    VaultShape,
}

/// Credentials by host.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    hosts: BTreeMap<String, Credential>,
}

impl Auth {
    /// Read an auth file.
    pub fn from_file(path: &Path) -> Result<Auth, AuthError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthError::new(&origin, None, None, AuthErrorKind::Read(e)))?;
        // A bare file name (`-a c.toml`) has the empty path as its
        // parent: its folder is the current one.
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Auth::parse(&text, &origin, base)
    }

    /// Parse auth file text; relative paths and commands use `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Auth, AuthError> {
        let doc = toml_edit::Document::parse(text)
            .map_err(|e| AuthError::new(origin, None, None, AuthErrorKind::Toml(e)))?;
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map(|r| text[..r.start.min(text.len())].matches('\n').count() + 1)
        };
        let mut auth = Auth::default();
        let table = doc.as_table();
        for (k, _) in table.iter() {
            if k != "auth" {
                return Err(AuthError::new(
                    origin,
                    None,
                    None,
                    AuthErrorKind::UnknownKey(k.to_owned()),
                ));
            }
        }
        let Some(item) = table.get("auth") else {
            return Ok(auth);
        };
        let entries = item.as_array_of_tables().ok_or_else(|| {
            AuthError::new(
                origin,
                line_of(item.span()),
                None,
                AuthErrorKind::NotAuthTable,
            )
        })?;
        for entry in entries.iter() {
            let line = line_of(entry.span());
            let err = |host: Option<&str>, kind| AuthError::new(origin, line, host, kind);
            let host = entry
                .get("host")
                .and_then(|h| h.as_str())
                .ok_or_else(|| err(None, AuthErrorKind::NoHost))?
                .to_owned();
            for (k, _) in entry.iter() {
                if !["host", "login", "password", "token", "cert", "key"].contains(&k) {
                    return Err(err(Some(&host), AuthErrorKind::UnknownKey(k.to_owned())));
                }
            }
            let secret = |field: &str| -> Result<Option<String>, AuthError> {
                entry
                    .get(field)
                    .map(|item| resolve(item, field, base))
                    .transpose()
                    .map_err(|k| err(Some(&host), k))
            };
            let has = |f: &str| entry.contains_key(f);
            let cred = match (
                has("login") || has("password"),
                has("token"),
                has("cert") || has("key"),
            ) {
                (true, false, false) => {
                    let login = entry
                        .get("login")
                        .and_then(|l| l.as_str())
                        .ok_or_else(|| err(Some(&host), AuthErrorKind::Shape))?
                        .to_owned();
                    let password = secret("password")?
                        .ok_or_else(|| err(Some(&host), AuthErrorKind::Shape))?;
                    Credential::Basic {
                        login,
                        password: Secret(password),
                    }
                }
                (false, true, false) => {
                    Credential::Token(Secret(secret("token")?.unwrap_or_default()))
                }
                (false, false, true) => {
                    let pem = |field: &str| -> Result<Secret, AuthError> {
                        let item = entry
                            .get(field)
                            .ok_or_else(|| err(Some(&host), AuthErrorKind::Shape))?;
                        // A plain string is inline PEM or a path to a PEM file.
                        if let Some(s) = item.as_str() {
                            if s.trim_start().starts_with("-----BEGIN") {
                                return Ok(Secret(s.to_owned()));
                            }
                            return read_secret_file(&base.join(s), field)
                                .map(Secret)
                                .map_err(|k| err(Some(&host), k));
                        }
                        let v = resolve(item, field, base).map_err(|k| err(Some(&host), k))?;
                        Ok(Secret(v))
                    };
                    Credential::Mtls {
                        cert: pem("cert")?,
                        key: pem("key")?,
                    }
                }
                _ => return Err(err(Some(&host), AuthErrorKind::Shape)),
            };
            auth.hosts.insert(host, cred);
        }
        Ok(auth)
    }

    /// The credential for `host` (a host name, or `host:port`).
    pub fn get(&self, host: &str) -> Option<&Credential> {
        self.hosts
            .get(host)
            .or_else(|| host.rsplit_once(':').and_then(|(h, _)| self.hosts.get(h)))
    }

    /// Add or replace a host's credential.
    pub fn insert(&mut self, host: &str, cred: Credential) {
        self.hosts.insert(host.to_owned(), cred);
    }

    /// Hosts with credentials.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }
}

fn read_secret_file(path: &Path, field: &str) -> Result<String, AuthErrorKind> {
    std::fs::read_to_string(path).map_err(|source| AuthErrorKind::SecretFile {
        field: field.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// A secret written inline, or as `{env|cmd|file|path = "..."}`.
fn resolve(item: &toml_edit::Item, field: &str, base: &Path) -> Result<String, AuthErrorKind> {
    if let Some(s) = item.as_str() {
        return Ok(s.to_owned());
    }
    let bad = || AuthErrorKind::BadSecret(field.to_owned());
    let t = item.as_table_like().ok_or_else(bad)?;
    let mut it = t.iter();
    let (Some((kind, v)), None) = (it.next(), it.next()) else {
        return Err(bad());
    };
    let v = v.as_str().ok_or_else(bad)?;
    let trim = |s: String| {
        s.strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s).to_owned())
            .unwrap_or(s)
    };
    match kind {
        "env" => std::env::var(v).map_err(|_| AuthErrorKind::MissingEnv {
            field: field.to_owned(),
            var: v.to_owned(),
        }),
        "cmd" => {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(v)
                .current_dir(base)
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|source| AuthErrorKind::Command {
                    field: field.to_owned(),
                    source,
                })?;
            if !out.status.success() {
                return Err(AuthErrorKind::CommandFailed {
                    field: field.to_owned(),
                    status: out.status.to_string(),
                });
            }
            Ok(trim(String::from_utf8_lossy(&out.stdout).into_owned()))
        }
        "file" | "path" => read_secret_file(&base.join(v), field).map(trim),
        _ => Err(bad()),
    }
}

/// Reads per-host credentials from Vault (KV version 1 or 2).
#[derive(Clone)]
pub struct Vault {
    client: reqwest::Client,
    addr: String,
    token: Secret,
    path: String,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("addr", &self.addr)
            .field("path", &self.path)
            .finish()
    }
}

impl Vault {
    /// A client for `MOUNT/PATH`, configured from the environment
    /// (`VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`, `VAULT_SKIP_VERIFY`).
    /// Installs rustls's ring provider as [`crate::transport::Transport::new`]
    /// does.
    pub fn from_env(path: &str) -> Result<Vault, AuthError> {
        let origin = format!("vault:{path}");
        let err = |k| AuthError::new(&origin, None, None, k);
        let (Ok(addr), Ok(token)) = (std::env::var("VAULT_ADDR"), std::env::var("VAULT_TOKEN"))
        else {
            return Err(err(AuthErrorKind::VaultEnv));
        };
        crate::transport::install_crypto_provider();
        let mut builder = reqwest::Client::builder();
        if let Ok(ca) = std::env::var("VAULT_CACERT") {
            let pem = std::fs::read(&ca).map_err(|e| err(AuthErrorKind::VaultCa(e)))?;
            let cert =
                reqwest::Certificate::from_pem(&pem).map_err(|e| err(AuthErrorKind::Vault(e)))?;
            builder = builder.add_root_certificate(cert);
        }
        let skip = std::env::var("VAULT_SKIP_VERIFY")
            .is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        let client = builder
            .tls_danger_accept_invalid_certs(skip)
            .build()
            .map_err(|e| err(AuthErrorKind::Vault(e)))?;
        Ok(Vault {
            client,
            addr: addr.trim_end_matches('/').to_owned(),
            token: Secret(token),
            path: path.trim_matches('/').to_owned(),
        })
    }

    /// The credential stored for `host`, `None` if Vault has none.
    pub async fn credential(&self, host: &str) -> Result<Option<Credential>, AuthError> {
        let origin = format!("vault:{}/{host}", self.path);
        let err = |k| AuthError::new(&origin, None, Some(host), k);
        let url = format!("{}/v1/{}/{host}", self.addr, self.path);
        let resp = self
            .client
            .get(&url)
            .header("X-Vault-Token", self.token.expose())
            .send()
            .await
            .map_err(|e| err(AuthErrorKind::Vault(e.without_url())))?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            s => return Err(err(AuthErrorKind::VaultStatus(s))),
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| err(AuthErrorKind::Vault(e)))?;
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| err(AuthErrorKind::VaultShape))?;
        // KV v2 nests the secret in data.data, KV v1 in data.
        let data = body
            .get("data")
            .map(|d| d.get("data").filter(|x| x.is_object()).unwrap_or(d))
            .ok_or_else(|| err(AuthErrorKind::VaultShape))?;
        let field = |k: &str| data.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let cred = match field("type").as_deref() {
            Some("basic") => Credential::Basic {
                login: field("login").ok_or_else(|| err(AuthErrorKind::VaultShape))?,
                password: Secret(field("password").ok_or_else(|| err(AuthErrorKind::VaultShape))?),
            },
            Some("token") => Credential::Token(Secret(
                field("token").ok_or_else(|| err(AuthErrorKind::VaultShape))?,
            )),
            Some("mtls") => Credential::Mtls {
                cert: Secret(field("cert").ok_or_else(|| err(AuthErrorKind::VaultShape))?),
                key: Secret(field("key").ok_or_else(|| err(AuthErrorKind::VaultShape))?),
            },
            _ => return Err(err(AuthErrorKind::VaultShape)),
        };
        Ok(Some(cred))
    }
}

#[cfg(test)]
mod tests;
