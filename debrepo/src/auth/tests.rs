use super::*;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "debrepo-auth-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_secret_source() {
    let d = dir();
    std::fs::write(d.join("pw.txt"), "from-file\n").unwrap();
    std::fs::write(
        d.join("client.key"),
        "-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::env::set_var("DEBREPO_TEST_TOKEN", "from-env");
    let text = r#"
[[auth]]
host = "a.invalid"
login = "user"
password = "inline"

[[auth]]
host = "b.invalid"
login = "user"
password.file = "pw.txt"

[[auth]]
host = "c.invalid"
token.env = "DEBREPO_TEST_TOKEN"

[[auth]]
host = "d.invalid"
token.cmd = "cat pw.txt | tr a-z A-Z"

[[auth]]
host = "e.invalid"
cert = "-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n"
key = "client.key"

[[auth]]
host = "f.invalid:8443"
login = "u"
password.path = "pw.txt"
"#;
    let auth = Auth::parse(text, "auth.toml", &d).unwrap();
    let basic = |h: &str| match auth.get(h) {
        Some(Credential::Basic { login, password }) => {
            (login.clone(), password.expose().to_owned())
        }
        other => panic!("{h}: {other:?}"),
    };
    assert_eq!(basic("a.invalid"), ("user".into(), "inline".into()));
    assert_eq!(basic("b.invalid"), ("user".into(), "from-file".into()));
    assert_eq!(basic("f.invalid:8443").1, "from-file");
    assert_eq!(
        auth.get("c.invalid"),
        Some(&Credential::Token(Secret::new("from-env")))
    );
    assert_eq!(
        auth.get("d.invalid"),
        Some(&Credential::Token(Secret::new("FROM-FILE")))
    );
    assert_eq!(
        auth.get("c.invalid:443"),
        auth.get("c.invalid"),
        "a port falls back to the host"
    );
    match auth.get("e.invalid") {
        Some(Credential::Mtls { cert, key }) => {
            assert!(cert.expose().starts_with("-----BEGIN CERTIFICATE"));
            assert!(key.expose().contains("PRIVATE KEY"));
        }
        other => panic!("{other:?}"),
    }
    // Secrets never print.
    let shown = format!("{auth:?}");
    assert!(
        !shown.contains("inline") && !shown.contains("from-env") && !shown.contains("FROM-FILE"),
        "{shown}"
    );
    assert_eq!(auth.hosts().count(), 6);
}

#[test]
fn errors_name_file_line_and_host_but_no_secret() {
    let d = dir();
    let e = |text: &str| Auth::parse(text, "auth.toml", &d).unwrap_err().to_string();
    assert_eq!(
        e("[[auth]]\nlogin = \"x\"\n"),
        "auth.toml, line 1: missing 'host'"
    );
    assert_eq!(
        e("[[auth]]\nhost = \"h.invalid\"\nlogin = \"x\"\npassword = \"secret1\"\ntoken = \"secret2\"\n"),
        "auth.toml, line 1 (host h.invalid): give exactly one of: login + password, token, or cert + key"
    );
    assert_eq!(
        e("\n[[auth]]\nhost = \"h.invalid\"\ntoken.env = \"DEBREPO_SURELY_UNSET\"\n"),
        "auth.toml, line 2 (host h.invalid): environment variable DEBREPO_SURELY_UNSET (for 'token') is not set"
    );
    assert_eq!(
        e("[[auth]]\nhost = \"h.invalid\"\ntoken.cmd = \"echo secret3; exit 3\"\n"),
        "auth.toml, line 1 (host h.invalid): command for 'token' failed (exit status: 3)"
    );
    let msg = e("[[auth]]\nhost = \"h.invalid\"\ntoken.file = \"nope.txt\"\n");
    assert!(
        msg.starts_with("auth.toml, line 1 (host h.invalid): cannot read ")
            && msg.ends_with("nope.txt (for 'token')"),
        "{msg}"
    );
    assert_eq!(
        e("[[auth]]\nhost = \"h.invalid\"\nuser = \"x\"\n"),
        "auth.toml, line 1 (host h.invalid): unknown key 'user'"
    );
    assert_eq!(
        e("[auth]\nhost = \"x\"\n"),
        "auth.toml, line 1: expected [[auth]] entries"
    );
    assert!(e("[[auth]\n").starts_with("auth.toml: not valid TOML"));
}

#[test]
fn auth_source_argument() {
    assert_eq!(
        "file:/etc/auth.toml".parse::<AuthSource>().unwrap(),
        AuthSource::File("/etc/auth.toml".into())
    );
    assert_eq!(
        "my/auth.toml".parse::<AuthSource>().unwrap(),
        AuthSource::File("my/auth.toml".into())
    );
    assert_eq!(
        "vault:secret/data/repos".parse::<AuthSource>().unwrap(),
        AuthSource::Vault("secret/data/repos".into())
    );
    assert!("vault:secret".parse::<AuthSource>().is_err());
}
