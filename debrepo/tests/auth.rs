//! Credentials on the wire: basic and bearer auth from an auth file, and
//! per-host credentials from a (fake) Vault server.

use debrepo::auth::{Auth, Credential, Secret, Vault};
use debrepo::transport::{AuthProvider, FetchError, Transport, TransportOptions};
use testkit::http::{Auth as ServerAuth, Server};
use testkit::TempDir;

fn served() -> (TempDir, Server) {
    let dir = TempDir::new("auth");
    std::fs::write(dir.path().join("secret.txt"), b"private data").unwrap();
    let server = Server::serve_dir(dir.path());
    (dir, server)
}

fn host(server: &Server) -> String {
    server.url().trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn basic_auth_from_an_auth_file() {
    let (dir, server) = served();
    server.require_auth(ServerAuth::Basic {
        login: "user".into(),
        password: "s3cret".into(),
    });
    let url = format!("{}/secret.txt", server.url());
    // Without credentials: a message that says what to do.
    let t = Transport::new(TransportOptions::default()).unwrap();
    let e = t.get(&url).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{url}: access denied (HTTP 401); add credentials for this host to auth.toml or pass -a/--auth")
    );
    // From an auth file (password from a file next to it).
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let text = format!(
        "[[auth]]\nhost = \"{}\"\nlogin = \"user\"\npassword.file = \"pw\"\n",
        host(&server)
    );
    std::fs::write(dir.path().join("auth.toml"), text).unwrap();
    let auth = Auth::from_file(&dir.path().join("auth.toml")).unwrap();
    let t = Transport::new(TransportOptions::default())
        .unwrap()
        .with_auth(AuthProvider::Static(auth));
    assert_eq!(t.get(&url).await.unwrap(), b"private data");
    // A wrong password is denied, and the error does not show it.
    let mut wrong = Auth::default();
    wrong.insert(
        &host(&server),
        Credential::Basic {
            login: "user".into(),
            password: Secret::new("nope"),
        },
    );
    let t = Transport::new(TransportOptions::default())
        .unwrap()
        .with_auth(AuthProvider::Static(wrong));
    let e = t.get(&url).await.unwrap_err();
    assert!(matches!(e, FetchError::Denied { status: 401, .. }));
    assert!(!format!("{e:?}").contains("nope"));
}

#[tokio::test]
async fn bearer_token() {
    let (_dir, server) = served();
    server.require_auth(ServerAuth::Bearer("tok-123".into()));
    let mut auth = Auth::default();
    auth.insert(&host(&server), Credential::Token(Secret::new("tok-123")));
    let t = Transport::new(TransportOptions::default())
        .unwrap()
        .with_auth(AuthProvider::Static(auth));
    assert_eq!(
        t.get(&format!("{}/secret.txt", server.url()))
            .await
            .unwrap(),
        b"private data"
    );
    assert_eq!(
        server.requests()[0].authorization.as_deref(),
        Some("Bearer tok-123")
    );
}

#[tokio::test]
async fn credentials_from_vault() {
    // The archive wants a token; the fake Vault holds it at
    // secret/data/repos/127.0.0.1 (KV v2 layout).
    let (_dir, archive) = served();
    archive.require_auth(ServerAuth::Bearer("from-vault".into()));
    let vault_dir = TempDir::new("vault");
    let secret = vault_dir.path().join("v1/secret/data/repos/127.0.0.1");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(
        &secret,
        r#"{"data": {"data": {"type": "token", "token": "from-vault"}, "metadata": {}}}"#,
    )
    .unwrap();
    let vault = Server::serve_dir(vault_dir.path());
    vault.require_header("X-Vault-Token", "root-token");
    std::env::set_var("VAULT_ADDR", vault.url());
    std::env::set_var("VAULT_TOKEN", "root-token");
    let v = Vault::from_env("secret/data/repos").unwrap();
    let t = Transport::new(TransportOptions::default())
        .unwrap()
        .with_auth(AuthProvider::Vault(v.clone()));
    let url = format!("{}/secret.txt", archive.url());
    assert_eq!(t.get(&url).await.unwrap(), b"private data");
    assert_eq!(t.get(&url).await.unwrap(), b"private data");
    assert_eq!(vault.requests().len(), 1, "Vault is asked once per host");
    // No secret for a host: no credentials (and the archive then denies).
    assert_eq!(v.credential("other.invalid").await.unwrap(), None);
    // A wrong Vault token is an error naming the Vault path.
    std::env::set_var("VAULT_TOKEN", "wrong");
    let e = Vault::from_env("secret/data/repos")
        .unwrap()
        .credential("127.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "vault:secret/data/repos/127.0.0.1 (host 127.0.0.1): Vault answered HTTP 403"
    );
}
