//! `http_proxy` is honoured (its own test binary: it sets the process
//! environment before any client exists).

use debrepo::transport::{Transport, TransportOptions};

#[tokio::test]
async fn requests_go_through_http_proxy() {
    let dir = testkit::TempDir::new("proxy");
    std::fs::create_dir_all(dir.path().join("debian")).unwrap();
    std::fs::write(dir.path().join("debian/file"), b"via the proxy").unwrap();
    let proxy = testkit::http::Server::serve_dir(dir.path());
    std::env::set_var("http_proxy", proxy.url());
    std::env::remove_var("no_proxy");
    std::env::remove_var("NO_PROXY");
    let t = Transport::new(TransportOptions {
        retries: 0,
        ..Default::default()
    })
    .unwrap();
    // The host does not exist: only the proxy can answer.
    let body = t.get("http://archive.invalid/debian/file").await.unwrap();
    assert_eq!(body, b"via the proxy");
    assert_eq!(proxy.hits("/debian/file"), 1);
}
