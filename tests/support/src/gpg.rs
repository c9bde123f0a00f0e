//! OpenPGP keys and signatures made at test time with GnuPG, in a throwaway
//! home directory: good keys, expired keys (with `--faked-system-time`),
//! revoked keys, weak keys and weak digests, as real archives may have them.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::TempDir;

/// A GnuPG home of its own.
pub struct Gpg {
    home: TempDir,
}

/// True if `gpg` can be run here.
pub fn available() -> bool {
    Command::new("gpg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Default for Gpg {
    fn default() -> Self {
        Self::new()
    }
}

impl Gpg {
    /// A fresh, empty home.
    pub fn new() -> Gpg {
        let home = TempDir::new("gnupg");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Gpg { home }
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Run gpg with `args` (batch mode, no passphrase), feeding `input`;
    /// panics with gpg's message on failure.
    pub fn run(&self, args: &[&str], input: &[u8]) -> Output {
        let out = self.try_run(args, input);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Like [`Gpg::run`] but returns failures.
    pub fn try_run(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home())
            .args([
                "--batch",
                "--yes",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run gpg");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Make a key like an archive key: a certification-only primary key
    /// and a signing subkey, both of `algo` (`ed25519`, `rsa2048`, ...),
    /// expiring after `expire` (`0` = never, `1d`, ...). `time` fakes the
    /// creation time (`20200101T000000`). Returns the primary fingerprint.
    pub fn key(&self, name: &str, algo: &str, expire: &str, time: Option<&str>) -> String {
        let uid = format!(
            "{name} <{}@example.invalid>",
            name.to_lowercase().replace(' ', "-")
        );
        let faked = time.map(|t| format!("{t}!"));
        let mut args = Vec::new();
        if let Some(f) = &faked {
            args.extend(["--faked-system-time", f.as_str()]);
        }
        let mut gen = args.clone();
        gen.extend(["--quick-gen-key", uid.as_str(), algo, "cert", expire]);
        self.run(&gen, b"");
        let fpr = self.fingerprint(&uid);
        let mut add = args.clone();
        add.extend(["--quick-add-key", fpr.as_str(), algo, "sign", expire]);
        self.run(&add, b"");
        fpr
    }

    /// The primary fingerprint of the key with this user ID.
    pub fn fingerprint(&self, uid: &str) -> String {
        let out = self.run(&["--with-colons", "--list-keys", uid], b"");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .expect("a fingerprint")
    }

    /// Export public keys, binary or armored.
    pub fn export(&self, fprs: &[&str], armor: bool) -> Vec<u8> {
        let mut args = vec!["--export"];
        if armor {
            args.insert(0, "--armor");
        }
        args.extend(fprs);
        self.run(&args, b"").stdout
    }

    /// Clear-sign `text` with the signing subkey of `fpr`; `extra` adds
    /// options (`--digest-algo SHA1`, `--faked-system-time ...`).
    pub fn clearsign(&self, fpr: &str, text: &str, extra: &[&str]) -> String {
        let mut args = vec!["--local-user", fpr];
        args.extend(extra);
        args.push("--clearsign");
        String::from_utf8(self.run(&args, text.as_bytes()).stdout).unwrap()
    }

    /// A detached signature of `data` (armored, as archives publish
    /// `Release.gpg`).
    pub fn detach_sign(&self, fpr: &str, data: &[u8], extra: &[&str]) -> Vec<u8> {
        let mut args = vec!["--local-user", fpr, "--armor"];
        args.extend(extra);
        args.push("--detach-sign");
        self.run(&args, data).stdout
    }

    /// Revoke the key `fpr` with the revocation certificate GnuPG made when
    /// the key was generated.
    pub fn revoke(&self, fpr: &str) {
        let path = self
            .home()
            .join("openpgp-revocs.d")
            .join(format!("{fpr}.rev"));
        let cert = std::fs::read_to_string(&path).expect("revocation certificate");
        // GnuPG guards the certificate against accidental import with a ':'.
        let cert = cert.replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
        );
        self.run(&["--import"], cert.as_bytes());
    }

    /// Revoke the first subkey of `fpr` (the signing subkey of [`Gpg::key`]).
    pub fn revoke_subkey(&self, fpr: &str) {
        // Answers to --edit-key: select subkey 1, revoke it, confirm, reason
        // 0 (none), empty description, confirm, save.
        self.run(
            &["--command-fd", "0", "--edit-key", fpr],
            b"key 1\nrevkey\ny\n0\n\ny\nsave\n",
        );
    }
}
