//! Fetching files over HTTP(S), `file://` URLs and plain paths.
//!
//! - Concurrency is bounded overall (`-n/--downloads`) and per host.
//! - Timeouts are for connecting and for a body that stops moving, never
//!   for a whole download (a large .deb on a slow link is fine).
//! - Connection errors, stalls, 5xx and 429 are retried with exponential
//!   backoff; a `Retry-After` in seconds is honoured. Failures a retry
//!   would meet again are not retried: TLS failures (certificates,
//!   handshakes), refused connections, host names that do not exist.
//! - An interrupted download resumes with `Range` when the server allows
//!   it; otherwise it starts again from zero. A body that ends before the
//!   length the answer declares (`Content-Length`, or the total of a
//!   `Content-Range`), or before the size the caller expects
//!   ([`Transport::fetch_sized`]), is such an interruption too, even when
//!   the HTTP framing says it is complete (a chunked body that also
//!   declares a longer `Content-Length`): it is resumed or retried, and
//!   never handed on as the whole file. A body longer than its declared
//!   length or the caller's size is an error naming both figures.
//! - Proxies come from `http_proxy`/`https_proxy`/`no_proxy`; TLS is rustls
//!   with the system's roots (`insecure` turns certificate checks off), on
//!   rustls's ring provider, installed as the process's default provider
//!   unless the embedding program installed one first (which is then used;
//!   ring has no ECDSA P-521).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use crate::auth::{Auth, AuthError, Credential, Vault};
use crate::progress::{NoProgress, Progress};

/// Where the transport finds credentials.
pub enum AuthProvider {
    /// An auth file, read beforehand.
    Static(Auth),
    /// Vault, asked once per host.
    Vault(Vault),
}

/// Settings of a [`Transport`].
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Downloads at once, over all hosts.
    pub downloads: usize,
    /// Downloads at once from one host. Four by default: a small server
    /// may accept few connections at once (Python's `http.server` queues
    /// 5), and a connection attempt beyond its queue is dropped and tried
    /// again only after a second (the kernel's first SYN retransmission):
    /// eight at once made a minbase fetch from such a server take 1 s
    /// instead of 0.1 s.
    pub per_host: usize,
    pub connect_timeout: Duration,
    /// Give up on a body that delivers nothing for this long.
    pub stall_timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// Delay before the first retry; doubles each time, capped at 30 s.
    pub backoff: Duration,
    /// Accept any TLS certificate (`-k/--insecure`).
    pub insecure: bool,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            downloads: 20,
            per_host: 4,
            connect_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(60),
            retries: 5,
            backoff: Duration::from_millis(500),
            insecure: false,
        }
    }
}

/// A failed fetch, naming the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: not found (HTTP {status})")]
    NotFound { url: String, status: u16 },
    #[error("{url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: access denied (HTTP {status}); add credentials for this host to auth.toml or pass -a/--auth")]
    Denied { url: String, status: u16 },
    #[error("credentials")]
    Auth(#[source] AuthError),
    #[error("{host}: the client certificate or key is not usable")]
    Identity {
        host: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: {what}")]
    Network {
        url: String,
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: the server sent another part of the file than asked for")]
    BadRange { url: String },
    #[error("{url}: no data for {secs} s")]
    Stalled { url: String, secs: u64 },
    #[error(
        "{url}: more data than the expected {limit} bytes (stopped at {received} bytes received)"
    )]
    TooLarge {
        url: String,
        limit: u64,
        /// Bytes received when the download was stopped, the chunk that
        /// went over included.
        received: u64,
    },
    #[error("{url}: the transfer ended early: {received} of {expected} bytes received")]
    Truncated {
        url: String,
        /// The length the answer declared, or the size the caller expects.
        expected: u64,
        received: u64,
    },
    #[error("{url}: the server has nothing from byte {from} on (HTTP 416), though it declared the file longer")]
    NothingPast { url: String, from: u64 },
    #[error("{url}: the server sent more than the {declared} bytes it declared (Content-Length or Content-Range; stopped at {received} bytes received)")]
    LongerThanDeclared {
        url: String,
        declared: u64,
        /// Bytes received when the download was stopped, the chunk that
        /// went over included.
        received: u64,
    },
    #[error("{}: cannot read", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{url}: cannot store the download")]
    Sink {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("{url}: not a URL this tool can fetch (use http://, https://, file:// or a path)")]
    BadUrl { url: String },
}

impl FetchError {
    /// True for errors worth another attempt.
    fn retryable(&self) -> bool {
        match self {
            FetchError::Network { source, .. } => !is_permanent(source),
            FetchError::Stalled { .. }
            | FetchError::BadRange { .. }
            | FetchError::Truncated { .. }
            | FetchError::NothingPast { .. } => true,
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// True if the resource does not exist (404, 410; missing file).
    pub fn is_not_found(&self) -> bool {
        match self {
            FetchError::NotFound { .. } => true,
            FetchError::File { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// Where downloaded bytes go. Resuming needs its length; a restart from
/// zero needs [`Sink::reset`].
pub trait Sink: Send {
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// Bytes held.
    fn len(&self) -> u64;
    /// True if nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Drop everything written (the server sent the whole file again).
    fn reset(&mut self) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }
    fn reset(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

/// Make ring rustls's process-wide crypto provider, which reqwest's
/// clients use, unless one is installed already. ring rather than
/// aws-lc: its C and assembly build in a fraction of aws-lc's time. What
/// ring lacks: ECDSA P-521 (server certificate chains, client keys) and
/// the post-quantum key exchange aws-lc offers first; an embedder that
/// needs them installs aws-lc's provider before making a [`Transport`].
pub(crate) fn install_crypto_provider() {
    // Refused when one is installed (the embedder's, or another thread's
    // ring): then that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Fetches files; cheap to clone, share one per run.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    opts: TransportOptions,
    global: Arc<Semaphore>,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    progress: Arc<dyn Progress>,
    auth: Option<Arc<AuthProvider>>,
    /// Credentials looked up so far, by host.
    creds: Arc<tokio::sync::Mutex<HashMap<String, Option<Credential>>>>,
    /// Clients carrying a client certificate, by host.
    tls_clients: Arc<Mutex<HashMap<String, reqwest::Client>>>,
}

impl Transport {
    /// A transport with these options and no progress reporting.
    ///
    /// Installs rustls's ring provider as the process's default crypto
    /// provider unless one is installed already (then that one is used):
    /// a program that installs its own must do so before this.
    pub fn new(opts: TransportOptions) -> Result<Transport, FetchError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .tls_danger_accept_invalid_certs(opts.insecure)
            .user_agent(concat!("rdebootstrap/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(FetchError::Client)?;
        Ok(Transport {
            client,
            global: Arc::new(Semaphore::new(opts.downloads.max(1))),
            hosts: Arc::default(),
            opts,
            progress: Arc::new(NoProgress),
            auth: None,
            creds: Arc::default(),
            tls_clients: Arc::default(),
        })
    }

    /// Authenticate with credentials from `auth`.
    pub fn with_auth(mut self, auth: AuthProvider) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    async fn credential(&self, url: &reqwest::Url) -> Result<Option<Credential>, FetchError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let host = url.host_str().unwrap_or("").to_owned();
        let key = host_key(url);
        let mut creds = self.creds.lock().await;
        if let Some(c) = creds.get(&key) {
            return Ok(c.clone());
        }
        let cred = match auth.as_ref() {
            AuthProvider::Static(a) => a.get(&key).cloned(),
            AuthProvider::Vault(v) => v.credential(&host).await.map_err(FetchError::Auth)?,
        };
        creds.insert(key, cred.clone());
        Ok(cred)
    }

    fn client_for(
        &self,
        host: &str,
        cred: &Option<Credential>,
    ) -> Result<reqwest::Client, FetchError> {
        let Some(Credential::Mtls { cert, key }) = cred else {
            return Ok(self.client.clone());
        };
        let mut clients = self.tls_clients.lock().expect("client table");
        if let Some(c) = clients.get(host) {
            return Ok(c.clone());
        }
        let bad = |source| FetchError::Identity {
            host: host.to_owned(),
            source,
        };
        let pem = format!("{}\n{}", cert.expose(), key.expose());
        let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(bad)?;
        let client = reqwest::Client::builder()
            .connect_timeout(self.opts.connect_timeout)
            .tls_danger_accept_invalid_certs(self.opts.insecure)
            .user_agent(concat!("rdebootstrap/", env!("CARGO_PKG_VERSION")))
            .identity(identity)
            .build()
            .map_err(bad)?;
        clients.insert(host.to_owned(), client.clone());
        Ok(client)
    }

    /// Report progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The progress reporter.
    pub fn progress(&self) -> &Arc<dyn Progress> {
        &self.progress
    }

    fn host_limit(&self, url: &reqwest::Url) -> Arc<Semaphore> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self.hosts.lock().expect("host table");
        hosts
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.opts.per_host.max(1))))
            .clone()
    }

    /// Fetch `url` whole into memory.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut buf = Vec::new();
        self.fetch(url, &mut buf, None).await?;
        Ok(buf)
    }

    /// Like [`Transport::get`], but a missing file is `None`.
    pub async fn get_optional(&self, url: &str) -> Result<Option<Vec<u8>>, FetchError> {
        match self.get(url).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Fetch `url` into `sink`, at most `limit` bytes; returns the length.
    pub async fn fetch(
        &self,
        url: &str,
        sink: &mut dyn Sink,
        limit: Option<u64>,
    ) -> Result<u64, FetchError> {
        self.fetch_with(url, sink, limit, false).await
    }

    /// Fetch `url` into `sink`, a file of `size` bytes (as an index or a
    /// Release file gives it): more is [`FetchError::TooLarge`]; an HTTP
    /// transfer that ends before `size` bytes, however complete it looks,
    /// is resumed or retried as a dropped connection is
    /// ([`FetchError::Truncated`] once the retries run out). A local file
    /// is read as it is.
    pub async fn fetch_sized(
        &self,
        url: &str,
        sink: &mut dyn Sink,
        size: u64,
    ) -> Result<u64, FetchError> {
        self.fetch_with(url, sink, Some(size), true).await
    }

    async fn fetch_with(
        &self,
        url: &str,
        sink: &mut dyn Sink,
        limit: Option<u64>,
        exact: bool,
    ) -> Result<u64, FetchError> {
        if let Some(path) = local_path(url) {
            return self.fetch_file(url, path, sink, limit).await;
        }
        let parsed = reqwest::Url::parse(url).map_err(|_| FetchError::BadUrl {
            url: url.to_owned(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl {
                url: url.to_owned(),
            });
        }
        let cred = self.credential(&parsed).await?;
        let client = self.client_for(&host_key(&parsed), &cred)?;
        let host = self.host_limit(&parsed);
        let _global = self.global.acquire().await.expect("semaphore open");
        let _host = host.acquire().await.expect("semaphore open");
        self.progress.start(url, limit);
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            let result = self
                .attempt(&client, &cred, &parsed, url, sink, limit, exact)
                .await;
            match result {
                Ok(n) => {
                    self.progress.finish(url);
                    self.progress
                        .debug(&format!("{url}: {n} bytes in {:.0?}", started.elapsed()));
                    return Ok(n);
                }
                Err((e, retry_after)) if e.retryable() && attempt < self.opts.retries => {
                    attempt += 1;
                    let backoff = self
                        .opts
                        .backoff
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(Duration::from_secs(30));
                    let delay = retry_after.map_or(backoff, |s| {
                        Duration::from_secs(s).min(Duration::from_secs(300))
                    });
                    self.progress.retry(url, attempt, &e.to_string(), delay);
                    tokio::time::sleep(delay).await;
                }
                Err((e, _)) => {
                    self.progress.finish(url);
                    return Err(e);
                }
            }
        }
    }

    /// One request; resumes from what `sink` holds. Errors carry the
    /// server's Retry-After, if any. With `exact`, `limit` is the size the
    /// file must reach.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        client: &reqwest::Client,
        cred: &Option<Credential>,
        parsed: &reqwest::Url,
        url: &str,
        sink: &mut dyn Sink,
        limit: Option<u64>,
        exact: bool,
    ) -> Result<u64, (FetchError, Option<u64>)> {
        let have = sink.len();
        let mut req = client.get(parsed.clone());
        match cred {
            Some(Credential::Basic { login, password }) => {
                req = req.basic_auth(login, Some(password.expose()))
            }
            Some(Credential::Token(t)) => req = req.bearer_auth(t.expose()),
            _ => {}
        }
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let net = |what, source| FetchError::Network {
            url: url.to_owned(),
            what,
            source,
        };
        let mut resp = req
            .send()
            .await
            .map_err(|e| (net("request failed", e), None))?;
        let status = resp.status().as_u16();
        self.progress.debug(&format!(
            "GET {url}{}: {status} over {:?}",
            if have > 0 {
                format!(" from byte {have}")
            } else {
                String::new()
            },
            resp.version()
        ));
        let sink_err = |source| {
            (
                FetchError::Sink {
                    url: url.to_owned(),
                    source,
                },
                None,
            )
        };
        // The length of the whole file as this answer declares it.
        let declared: Option<u64>;
        match status {
            200 => {
                if have > 0 {
                    sink.reset().map_err(sink_err)?;
                }
                declared = header_u64(&resp, reqwest::header::CONTENT_LENGTH);
            }
            206 if have > 0 => {
                let range = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                declared = range.map(|(_, total)| total);
                let resumes_here = range.map(|(first, _)| first) == Some(have);
                if !resumes_here {
                    // Not the range asked for: drop what we have; the retry
                    // asks for the whole file.
                    sink.reset().map_err(sink_err)?;
                    return Err((
                        FetchError::BadRange {
                            url: url.to_owned(),
                        },
                        None,
                    ));
                }
            }
            416 if have > 0 => {
                // Nothing from byte `have` on: the server's file is no
                // longer than what was received (a short answer served
                // as whole, say). Start again from zero.
                sink.reset().map_err(sink_err)?;
                let e = match limit.filter(|_| exact) {
                    Some(expected) => FetchError::Truncated {
                        url: url.to_owned(),
                        expected,
                        received: have,
                    },
                    None => FetchError::NothingPast {
                        url: url.to_owned(),
                        from: have,
                    },
                };
                return Err((e, None));
            }
            401 | 403 => {
                return Err((
                    FetchError::Denied {
                        url: url.to_owned(),
                        status,
                    },
                    None,
                ))
            }
            404 | 410 => {
                return Err((
                    FetchError::NotFound {
                        url: url.to_owned(),
                        status,
                    },
                    None,
                ))
            }
            _ => {
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                return Err((
                    FetchError::Status {
                        url: url.to_owned(),
                        status,
                    },
                    retry_after,
                ));
            }
        }
        let stall = self.opts.stall_timeout;
        loop {
            let chunk = match tokio::time::timeout(stall, resp.chunk()).await {
                Err(_) => {
                    return Err((
                        FetchError::Stalled {
                            url: url.to_owned(),
                            secs: stall.as_secs(),
                        },
                        None,
                    ))
                }
                Ok(Err(e)) => return Err((net("connection lost while downloading", e), None)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            let received = sink.len() + chunk.len() as u64;
            if limit.is_some_and(|l| received > l) {
                return Err((
                    FetchError::TooLarge {
                        url: url.to_owned(),
                        limit: limit.unwrap_or(0),
                        received,
                    },
                    None,
                ));
            }
            if let Some(declared) = declared.filter(|d| received > *d) {
                return Err((
                    FetchError::LongerThanDeclared {
                        url: url.to_owned(),
                        declared,
                        received,
                    },
                    None,
                ));
            }
            sink.write(&chunk).map_err(|source| {
                (
                    FetchError::Sink {
                        url: url.to_owned(),
                        source,
                    },
                    None,
                )
            })?;
            self.progress.advance(url, chunk.len() as u64);
        }
        // The framing said "complete"; the declared length or the size the
        // caller expects may say otherwise.
        let expected = declared.into_iter().chain(limit.filter(|_| exact)).max();
        if let Some(expected) = expected.filter(|e| sink.len() < *e) {
            return Err((
                FetchError::Truncated {
                    url: url.to_owned(),
                    expected,
                    received: sink.len(),
                },
                None,
            ));
        }
        Ok(sink.len())
    }

    async fn fetch_file(
        &self,
        url: &str,
        path: PathBuf,
        sink: &mut dyn Sink,
        limit: Option<u64>,
    ) -> Result<u64, FetchError> {
        let file_err = |source| FetchError::File {
            path: path.clone(),
            source,
        };
        let mut f = tokio::fs::File::open(&path).await.map_err(file_err)?;
        sink.reset().map_err(|source| FetchError::Sink {
            url: url.to_owned(),
            source,
        })?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).await.map_err(file_err)?;
            if n == 0 {
                break;
            }
            if limit.is_some_and(|l| sink.len() + n as u64 > l) {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit: limit.unwrap_or(0),
                    received: sink.len() + n as u64,
                });
            }
            sink.write(&buf[..n]).map_err(|source| FetchError::Sink {
                url: url.to_owned(),
                source,
            })?;
        }
        Ok(sink.len())
    }
}

/// A header's value as a number, if it is one.
fn header_u64(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `bytes FIRST-LAST/TOTAL` → (FIRST, the file's whole length: TOTAL, or
/// LAST + 1 when the total is `*`).
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let (range, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last): (u64, u64) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    if last < first {
        return None;
    }
    let total = match total.trim() {
        "*" => last + 1,
        t => t.parse().ok()?,
    };
    Some((first, total))
}

/// True for network failures another attempt would meet again: TLS
/// failures (an untrusted or invalid certificate, a handshake the server
/// refuses), a refused connection (nothing listens on that port), and a
/// host name that does not exist. Time-outs, resets and temporary DNS
/// failures stay worth a retry.
fn is_permanent(e: &reqwest::Error) -> bool {
    if !e.is_connect() {
        return false;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return true,
                // rustls reports its handshake failures (certificates,
                // alerts, protocol mismatches) as InvalidData.
                io::ErrorKind::InvalidData => return true,
                _ => {}
            }
            let text = io.to_string();
            // getaddrinfo's EAI_NONAME and EAI_NODATA; EAI_AGAIN
            // ("Temporary failure in name resolution") is retried.
            if text.contains("Name or service not known")
                || text.contains("No address associated with hostname")
                || text.contains("nodename nor servname provided")
            {
                return true;
            }
            // io::Error::source skips the error it wraps: look at it too.
            cur = io
                .get_ref()
                .map(|e| e as &(dyn std::error::Error + 'static));
            continue;
        }
        cur = err.source();
    }
    false
}

/// `host` or `host:port` (when the URL names a port): how credentials and
/// client certificates are looked up.
fn host_key(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// The local path of a `file://` URL or a plain path; `None` for others.
pub fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(rest) = url.strip_prefix("file://") {
        return Some(PathBuf::from(percent_decode(rest)));
    }
    if url.contains("://") {
        return None;
    }
    Some(PathBuf::from(url))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes 100-299/300"), Some((100, 300)));
        assert_eq!(parse_content_range("bytes 0-0/1"), Some((0, 1)));
        // Total unknown: the range's end is all that is declared.
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 200)));
        for bad in [
            "bytes */300",
            "bytes 200-100/300",
            "items 0-1/2",
            "bytes 1-2",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
