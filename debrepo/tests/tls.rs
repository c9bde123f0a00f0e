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
