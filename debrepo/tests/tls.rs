//! HTTPS: certificate checks, `-k/--insecure`, and client certificates
//! (mTLS) from an auth file; certificates are made at test time.

use debrepo::auth::{Auth, Credential, Secret};
use debrepo::transport::{AuthProvider, FetchError, Transport, TransportOptions};
use testkit::http::Server;
use testkit::tls::Pki;
use testkit::TempDir;

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn insecure() -> TransportOptions {
    TransportOptions {
        insecure: true,
        retries: 0,
        ..Default::default()
    }
}

#[tokio::test]
async fn unknown_ca_is_refused_unless_insecure() {
    let dir = TempDir::new("tls");
    std::fs::write(dir.path().join("f"), b"over tls").unwrap();
    let pki = Pki::new();
    let server = Server::serve_dir_tls(dir.path(), &pki, false);
    let url = format!("{}/f", server.url());
    assert!(url.starts_with("https://127.0.0.1:"));
    let t = Transport::new(TransportOptions {
        retries: 0,
        ..Default::default()
    })
    .unwrap();
    let e = t.get(&url).await.unwrap_err();
    let msg = chain(&e);
    assert!(msg.starts_with(&format!("{url}: request failed")), "{msg}");
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    let t = Transport::new(insecure()).unwrap();
    assert_eq!(t.get(&url).await.unwrap(), b"over tls");
}

#[tokio::test]
async fn a_certificate_error_is_not_retried() {
    let dir = TempDir::new("tls-noretry");
    std::fs::write(dir.path().join("f"), b"over tls").unwrap();
    let pki = Pki::new();
    let server = Server::serve_dir_tls(dir.path(), &pki, false);
    let url = format!("{}/f", server.url());
    // The default five retries: 15.5 s if they were spent.
    let t = Transport::new(TransportOptions::default()).unwrap();
    let start = std::time::Instant::now();
    let e = t.get(&url).await.unwrap_err();
    assert!(
        chain(&e).to_lowercase().contains("certificate"),
        "{}",
        chain(&e)
    );
    assert!(
        start.elapsed() < std::time::Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn client_certificates_from_an_auth_file() {
    let dir = TempDir::new("mtls");
    std::fs::write(dir.path().join("f"), b"for certified clients").unwrap();
    let pki = Pki::new();
    let server = Server::serve_dir_tls(dir.path(), &pki, true);
    let url = format!("{}/f", server.url());
    let host = server.url().trim_start_matches("https://").to_owned();
    // No certificate: the handshake fails.
    let t = Transport::new(insecure()).unwrap();
    assert!(t.get(&url).await.is_err());
    // Certificate as a file next to auth.toml, key inline.
    let conf = TempDir::new("mtls-conf");
    std::fs::write(conf.path().join("client.crt"), &pki.client_cert_pem).unwrap();
    let text = format!(
        "[[auth]]\nhost = \"{host}\"\ncert = \"client.crt\"\nkey = \"\"\"\n{}\"\"\"\n",
        pki.client_key_pem
    );
    std::fs::write(conf.path().join("auth.toml"), text).unwrap();
    let auth = Auth::from_file(&conf.path().join("auth.toml")).unwrap();
    let t = Transport::new(insecure())
        .unwrap()
        .with_auth(AuthProvider::Static(auth));
    assert_eq!(t.get(&url).await.unwrap(), b"for certified clients");
    // A certificate that is not PEM is named by host, without its content.
    let mut bad = Auth::default();
    bad.insert(
        &host,
        Credential::Mtls {
            cert: Secret::new("garbage"),
            key: Secret::new("more garbage"),
        },
    );
    let t = Transport::new(insecure())
        .unwrap()
        .with_auth(AuthProvider::Static(bad));
    let e = t.get(&url).await.unwrap_err();
    assert!(matches!(e, FetchError::Identity { .. }), "{e}");
    assert!(!chain(&e).contains("garbage"), "{}", chain(&e));
}

/// A server that offers only HTTP/2 in ALPN serves every request (so the
/// client negotiated HTTP/2), and once a connection is up, concurrent
/// requests share it. A body larger than the flow-control window arrives
/// whole.
#[tokio::test]
async fn http2_is_negotiated_and_multiplexed() {
    let dir = TempDir::new("h2");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("big"), &big).unwrap();
    for i in 0..8 {
        std::fs::write(dir.path().join(format!("f{i}")), format!("file {i}")).unwrap();
    }
    let pki = Pki::new();
    let server = testkit::http2::H2Server::serve_dir(dir.path(), &pki);
    let t = Transport::new(insecure()).unwrap();
    assert_eq!(
        t.get(&format!("{}/f0", server.url())).await.unwrap(),
        b"file 0"
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (t, url) = (t.clone(), format!("{}/f{i}", server.url()));
        tasks.push(tokio::spawn(async move { (i, t.get(&url).await.unwrap()) }));
    }
    let whole = t.get(&format!("{}/big", server.url())).await.unwrap();
    assert!(whole == big, "the large body differs");
    for task in tasks {
        let (i, body) = task.await.unwrap();
        assert_eq!(body, format!("file {i}").as_bytes());
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(seen.iter().all(|s| s.connection == 0), "{seen:?}");
    // A missing file is a plain 404 over HTTP/2 too.
    let e = t
        .get(&format!("{}/missing", server.url()))
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{}", chain(&e));
}
