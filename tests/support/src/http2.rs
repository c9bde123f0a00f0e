//! A loopback HTTPS server that speaks HTTP/2 only (ALPN `h2`), to check
//! that the client negotiates HTTP/2 where a server offers it and
//! multiplexes requests over one connection.
//!
//! It serves the files under a directory with `GET` (200 or 404) and
//! records, per request, the path and the TCP connection it came on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

/// One request seen by the server.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Index of the TCP connection, in accept order.
    pub connection: usize,
}

/// The running server; it stops when dropped.
pub struct H2Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl H2Server {
    /// Serve `root` over TLS with `pki`'s server certificate, offering
    /// only `h2` in ALPN.
    pub fn serve_dir(root: &Path, pki: &crate::tls::Pki) -> H2Server {
        let mut cfg = pki.server_config(false);
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Bound here (not in the runtime) so that a test may start the
        // server from inside its own async runtime.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let root = root.to_owned();
        {
            let log = log.clone();
            runtime.spawn(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let mut connection = 0;
                while let Ok((tcp, _)) = listener.accept().await {
                    let (acceptor, log, root) = (acceptor.clone(), log.clone(), root.clone());
                    tokio::spawn(serve(acceptor, tcp, connection, log, root));
                    connection += 1;
                }
            });
        }
        H2Server {
            addr,
            log,
            runtime: Some(runtime),
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    connection: usize,
    log: Arc<Mutex<Vec<Seen>>>,
    root: PathBuf,
) {
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    let Ok(mut conn) = ::h2::server::handshake(tls).await else {
        return;
    };
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        let path = req.uri().path().to_owned();
        log.lock().unwrap().push(Seen {
            path: path.clone(),
            connection,
        });
        let file = crate::http::safe_join(&root, &path).and_then(|p| std::fs::read(p).ok());
        tokio::spawn(async move {
            let status = if file.is_some() { 200 } else { 404 };
            let body = file.unwrap_or_default();
            let resp = http::Response::builder()
                .status(status)
                .header("content-length", body.len())
                .body(())
                .unwrap();
            let Ok(mut stream) = respond.send_response(resp, false) else {
                return;
            };
            // Send within the peer's flow-control window, chunk by chunk.
            let mut rest = bytes::Bytes::from(body);
            while !rest.is_empty() {
                stream.reserve_capacity(rest.len().min(64 * 1024));
                let cap = match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                    Some(Ok(n)) => n,
                    _ => return,
                };
                let chunk = rest.split_to(cap.min(rest.len()));
                if stream.send_data(chunk, false).is_err() {
                    return;
                }
            }
            let _ = stream.send_data(bytes::Bytes::new(), true);
        });
    }
}
