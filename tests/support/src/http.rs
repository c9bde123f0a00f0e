//! A small HTTP/1.1 file server on 127.0.0.1 (port 0) for hermetic tests,
//! plain or HTTPS (optionally demanding a client certificate):
//! serves a directory with `Range` support, optional basic or bearer auth,
//! and faults queued per path (an error status, 429 with `Retry-After`, a
//! connection dropped mid-body, a stalled body, corrupted bytes, bodies
//! shorter or longer than their declared length). Every
//! request is logged so tests can check what a client asked for.
//!
//! [`Server::git_http_backend_tls`] instead answers every request with
//! `git http-backend` run as a CGI program, which makes it a git
//! smart-HTTP server (protocol v2, partial clones when the repository
//! allows filters) behind the same authentication and log.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A fault served instead of (or while serving) the file, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// 429 Too Many Requests with `Retry-After: secs`.
    RetryAfter(u32),
    /// Send the headers and this many body bytes, then close.
    DropAfter(usize),
    /// Send the headers (the whole length in `Content-Length`) and all
    /// but the last this many body bytes, then close: a short body.
    ShortBy(usize),
    /// A complete-looking answer that is short: a chunked body, properly
    /// terminated, of all but the last this many bytes, under a
    /// `Content-Length` that declares the whole length (the framing says
    /// "done", the declared length says otherwise).
    ShortChunked(usize),
    /// A chunked body of the whole file and this many bytes more under a
    /// `Content-Length` that declares the file's length.
    LongChunked(usize),
    /// A consistent but short answer: `Content-Length` and body both lack
    /// the last this many bytes of the file (a truncated copy served
    /// whole).
    Truncated(usize),
    /// Send the headers and this many body bytes, then wait this long.
    Stall(usize, Duration),
    /// Serve the file with one byte changed.
    Corrupt,
    /// Answer a `Range` request with 206 but the whole file from byte 0.
    WrongRange,
}

/// Credentials the server demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Basic { login: String, password: String },
    Bearer(String),
}

/// A logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    faults: HashMap<String, VecDeque<Fault>>,
    auth: Option<Auth>,
    header: Option<(String, String)>,
    log: Vec<Logged>,
    no_range: bool,
}

/// What answers the requests.
#[derive(Clone)]
enum Backend {
    /// Files under this directory.
    Files(PathBuf),
    /// `git http-backend` with this `GIT_PROJECT_ROOT`.
    Git(PathBuf),
}

/// The running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve the files under `root`.
    pub fn serve_dir(root: &Path) -> Server {
        Self::start(Backend::Files(root.to_owned()), None)
    }

    /// Serve the files under `root` over HTTPS with `pki`'s server
    /// certificate; with `client_auth`, only clients presenting a
    /// certificate from the same CA are served.
    pub fn serve_dir_tls(root: &Path, pki: &crate::tls::Pki, client_auth: bool) -> Server {
        Self::start(
            Backend::Files(root.to_owned()),
            Some(Arc::new(pki.server_config(client_auth))),
        )
    }

    /// A git smart-HTTP server over HTTPS for the repositories under
    /// `projects` (`https://127.0.0.1:PORT/NAME.git`): every request that
    /// passes the authentication check is handed to `git http-backend`.
    pub fn git_http_backend_tls(projects: &Path, pki: &crate::tls::Pki) -> Server {
        Self::start(
            Backend::Git(projects.to_owned()),
            Some(Arc::new(pki.server_config(false))),
        )
    }

    fn start(root: Backend, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let is_tls = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_owned();
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (state, root, tls) = (state.clone(), root.clone(), tls.clone());
                    std::thread::spawn(move || {
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                        match tls {
                            None => {
                                let _ = handle(conn, &root, &state);
                            }
                            Some(cfg) => {
                                let Ok(session) = rustls::ServerConnection::new(cfg) else {
                                    return;
                                };
                                let stream = rustls::StreamOwned::new(session, conn);
                                let _ = handle(stream, &root, &state);
                            }
                        }
                    });
                }
            })
        };
        Server {
            addr,
            tls: is_tls,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` for a TLS server)
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Queue a fault for the next request of `path` (`/dists/x/InRelease`).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Demand credentials for every request.
    pub fn require_auth(&self, auth: Auth) {
        self.state.lock().unwrap().auth = Some(auth);
    }

    /// Demand a header with this value (Vault's `X-Vault-Token`, say);
    /// answers 403 otherwise.
    pub fn require_header(&self, name: &str, value: &str) {
        self.state.lock().unwrap().header = Some((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Ignore `Range` headers (always send the whole file with 200).
    pub fn without_ranges(&self) {
        self.state.lock().unwrap().no_range = true;
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }

    /// Forget the log.
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn basic(login: &str, password: &str) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{login}:{password}");
    let mut out = String::new();
    for chunk in raw.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

fn handle<S: Read + Write>(
    stream: S,
    backend: &Backend,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("/").to_owned(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    // A proxy request names the whole URL: serve its path (and log it).
    let target = match target.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned()),
        None => target,
    };
    let path = percent_decode(target.split('?').next().unwrap_or("/"));
    let (fault, auth, no_range, header) = {
        let mut s = state.lock().unwrap();
        let f = s.faults.get_mut(&path).and_then(VecDeque::pop_front);
        (f, s.auth.clone(), s.no_range, s.header.clone())
    };
    let log = |status: u16| {
        state.lock().unwrap().log.push(Logged {
            path: path.clone(),
            range: headers.get("range").cloned(),
            authorization: headers.get("authorization").cloned(),
            status,
        });
    };
    if let Some(a) = auth {
        let want = match a {
            Auth::Basic { login, password } => basic(&login, &password),
            Auth::Bearer(t) => format!("Bearer {t}"),
        };
        if headers.get("authorization") != Some(&want) {
            log(401);
            return respond(
                reader.get_mut(),
                401,
                &[("WWW-Authenticate", "Basic realm=\"test\"".into())],
                b"",
            );
        }
    }
    if let Some((name, value)) = header {
        if headers.get(&name) != Some(&value) {
            log(403);
            return respond(reader.get_mut(), 403, &[], b"");
        }
    }
    match fault {
        Some(Fault::Status(code)) => {
            log(code);
            return respond(reader.get_mut(), code, &[], b"");
        }
        Some(Fault::RetryAfter(secs)) => {
            log(429);
            return respond(
                reader.get_mut(),
                429,
                &[("Retry-After", secs.to_string())],
                b"",
            );
        }
        _ => {}
    }
    let root = match backend {
        Backend::Files(root) => root,
        Backend::Git(projects) => {
            let body = read_body(&mut reader, &headers)?;
            let query = target.split_once('?').map_or("", |(_, q)| q);
            let (status, head, out_body) =
                git_cgi(projects, method, &path, query, &headers, &body)?;
            log(status);
            return respond(reader.get_mut(), status, &head, &out_body);
        }
    };
    let out = reader.get_mut();
    if method != "GET" && method != "HEAD" {
        log(405);
        return respond(out, 405, &[], b"");
    }
    let file = safe_join(root, &path);
    let mut data = match file.and_then(|f| std::fs::read(f).ok()) {
        Some(d) => d,
        None => {
            log(404);
            return respond(out, 404, &[], b"not found\n");
        }
    };
    if fault == Some(Fault::Corrupt) && !data.is_empty() {
        let mid = data.len() / 2;
        data[mid] ^= 0x55;
    }
    let start = headers
        .get("range")
        .filter(|_| !no_range)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<usize>().ok());
    let start = if fault == Some(Fault::WrongRange) && start.is_some() {
        Some(0)
    } else {
        start
    };
    if let Some(Fault::Truncated(n)) = fault {
        data.truncate(data.len().saturating_sub(n));
    }
    let (status, body, extra) = match start {
        Some(s) if s < data.len() => (
            206,
            &data[s..],
            vec![(
                "Content-Range",
                format!("bytes {s}-{}/{}", data.len() - 1, data.len()),
            )],
        ),
        Some(_) => (
            416,
            &data[..0],
            vec![("Content-Range", format!("bytes */{}", data.len()))],
        ),
        None => (200, &data[..], vec![]),
    };
    log(status);
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n", body.len());
    if matches!(fault, Some(Fault::ShortChunked(_) | Fault::LongChunked(_))) {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    for (k, v) in &extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    match fault {
        // Returning drops the stream, which closes the connection.
        Some(Fault::DropAfter(n)) => {
            out.write_all(&body[..n.min(body.len())])?;
            out.flush()
        }
        Some(Fault::Stall(n, d)) => {
            out.write_all(&body[..n.min(body.len())])?;
            out.flush()?;
            std::thread::sleep(d);
            Ok(())
        }
        Some(Fault::ShortBy(n)) => {
            out.write_all(&body[..body.len().saturating_sub(n)])?;
            out.flush()
        }
        Some(Fault::ShortChunked(n)) => {
            write_chunked(out, &body[..body.len().saturating_sub(n)], &[])
        }
        Some(Fault::LongChunked(n)) => write_chunked(out, body, &vec![b'x'; n]),
        _ => {
            out.write_all(body)?;
            out.flush()
        }
    }
}

/// `body`, then `more`, as one chunked body, terminated.
fn write_chunked<W: Write>(out: &mut W, body: &[u8], more: &[u8]) -> std::io::Result<()> {
    for part in [body, more] {
        for chunk in part.chunks(16 * 1024).filter(|c| !c.is_empty()) {
            write!(out, "{:x}\r\n", chunk.len())?;
            out.write_all(chunk)?;
            out.write_all(b"\r\n")?;
        }
    }
    out.write_all(b"0\r\n\r\n")?;
    out.flush()
}

fn respond<W: Write>(
    out: &mut W,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// The file under `root` for a request path, refusing `..`.
pub(crate) fn safe_join(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    let p = root.join(rel);
    p.is_file().then_some(p)
}

/// `%2b` → `+` and the like (apt escapes `+` and `:` in pool paths).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The request body: `Content-Length` bytes, or a chunked body.
fn read_body<R: BufRead>(r: &mut R, headers: &HashMap<String, String>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
            if size == 0 {
                return Ok(body);
            }
        }
    }
    let len = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    body.resize(len, 0);
    r.read_exact(&mut body)?;
    Ok(body)
}

/// A CGI program's answer: status, the headers passed on, body.
type CgiAnswer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// Run `git http-backend` for one request (RFC 3875 CGI): the status,
/// headers and body of its answer.
fn git_cgi(
    projects: &Path,
    method: &str,
    path: &str,
    query: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> std::io::Result<CgiAnswer> {
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", projects)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string());
    for (header, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = headers.get(header) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output()?;
    let _ = writer.join();
    // The CGI answer: header lines, an empty line, the body.
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        });
    let Some((end, sep)) = split else {
        return Ok((500, vec![], out.stdout));
    };
    let mut status = 200;
    let mut head = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout[..end]).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().to_owned();
        match k.to_ascii_lowercase().as_str() {
            "status" => {
                status = v
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(500)
            }
            "content-type" => head.push(("Content-Type", v)),
            "cache-control" => head.push(("Cache-Control", v)),
            _ => {}
        }
    }
    Ok((status, head, out.stdout[end + sep..].to_vec()))
}
