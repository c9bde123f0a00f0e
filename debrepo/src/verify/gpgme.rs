//! The GnuPG backend (cargo feature `gpgme`): signatures are checked by
//! the system's GnuPG through libgpgme, in a private home that holds only
//! the trusted keys; the same acceptance policy as the rpgp backend is then
//! applied (weak digests and short keys refused; revoked or expired keys
//! refused).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use gpgme::{Context, HashAlgorithm, KeyAlgorithm, Protocol, SignatureSummary};

use super::{Keyring, Problem, Rejected, Verified, Verifier, VerifyError};
use crate::release::clearsign;

/// Verifies with GnuPG (libgpgme) against a keyring.
pub struct GpgmeVerifier {
    home: PathBuf,
}

fn backend_err(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> VerifyError {
    VerifyError::BadKeyring {
        source_name: what.to_owned(),
        source: Box::new(e),
    }
}

impl GpgmeVerifier {
    /// A verifier trusting the keys of `keyring` (imported into a private
    /// GnuPG home under the system's temporary directory).
    pub fn new(keyring: &Keyring) -> Result<Self, VerifyError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let home = std::env::temp_dir().join(format!(
            "rdebootstrap-gpgme-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |e| backend_err(&home.display().to_string(), e);
        std::fs::create_dir_all(&home).map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        let verifier = GpgmeVerifier { home };
        let mut ctx = verifier.context()?;
        for (bytes, name) in keyring.raw.iter().zip(&keyring.names) {
            ctx.import(bytes.as_slice())
                .map_err(|e| backend_err(name, e))?;
        }
        Ok(verifier)
    }

    fn context(&self) -> Result<Context, VerifyError> {
        let mut ctx =
            Context::from_protocol(Protocol::OpenPgp).map_err(|e| backend_err("libgpgme", e))?;
        ctx.set_engine_home_dir(self.home.to_string_lossy().as_bytes())
            .map_err(|e| backend_err("libgpgme", e))?;
        Ok(ctx)
    }

    fn judge(
        &self,
        ctx: &mut Context,
        result: &gpgme::VerificationResult,
    ) -> Result<Verified, VerifyError> {
        let mut rejected = Vec::new();
        for sig in result.signatures() {
            let issuer = sig.fingerprint().unwrap_or("an unnamed key").to_owned();
            match self.judge_one(ctx, &sig) {
                Ok(v) => return Ok(v),
                Err(problem) => rejected.push(Rejected { issuer, problem }),
            }
        }
        if rejected.is_empty() {
            return Err(VerifyError::NoSignature);
        }
        Err(VerifyError::NoValidSignature(rejected))
    }

    fn judge_one(
        &self,
        ctx: &mut Context,
        sig: &gpgme::results::Signature<'_>,
    ) -> Result<Verified, Problem> {
        let summary = sig.summary();
        if let Err(e) = sig.status() {
            // A bad signature is reported by key ID only: judge it first.
            if e.code() == gpgme::Error::BAD_SIGNATURE.code() {
                return Err(Problem::BadSignature);
            }
        }
        if summary.contains(SignatureSummary::KEY_MISSING) {
            return Err(Problem::UnknownKey);
        }
        if matches!(
            sig.hash_algorithm(),
            HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::RipeMd160
        ) {
            return Err(Problem::Weak(format!("digest {:?}", sig.hash_algorithm())));
        }
        if summary.contains(SignatureSummary::KEY_REVOKED) {
            return Err(Problem::Revoked);
        }
        let fpr = sig
            .fingerprint()
            .map_err(|_| Problem::UnknownKey)?
            .to_owned();
        let key = ctx.get_key(fpr.as_str()).map_err(|_| Problem::UnknownKey)?;
        let sub = key
            .subkeys()
            .find(|k| k.fingerprint().is_ok_and(|f| f == fpr))
            .ok_or(Problem::UnknownKey)?;
        if summary.contains(SignatureSummary::KEY_EXPIRED) || sub.is_expired() {
            let t = sub
                .expiration_time()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            return Err(Problem::Expired(t));
        }
        if sub.is_revoked() || key.is_revoked() {
            return Err(Problem::Revoked);
        }
        let weak_alg = matches!(
            sub.algorithm(),
            KeyAlgorithm::Rsa
                | KeyAlgorithm::RsaSign
                | KeyAlgorithm::RsaEncrypt
                | KeyAlgorithm::Dsa
                | KeyAlgorithm::ElgamalEncrypt
                | KeyAlgorithm::Elgamal
        );
        if weak_alg && sub.length() < 2048 {
            return Err(Problem::Weak(format!(
                "{:?} key of {} bits",
                sub.algorithm(),
                sub.length()
            )));
        }
        // GnuPG's web-of-trust validity is not consulted: the private home
        // holds only the keyring's keys, so a good status by one of them is
        // the trust decision (as apt's Signed-By makes it).
        if sig.status().is_err() {
            return Err(Problem::BadSignature);
        }
        let signer = key
            .primary_key()
            .and_then(|p| p.fingerprint().ok().map(str::to_owned))
            .unwrap_or_else(|| fpr.clone());
        let created = sig
            .creation_time()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        Ok(Verified {
            signer,
            signing_key: fpr,
            created,
        })
    }
}

impl Drop for GpgmeVerifier {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

impl Verifier for GpgmeVerifier {
    fn verify_clearsigned(&self, document: &str) -> Result<(Verified, String), VerifyError> {
        // The same strict split as the other backend decides what the text is.
        let parts = clearsign::split(document).map_err(VerifyError::NotClearSigned)?;
        let mut ctx = self.context()?;
        let mut plain = Vec::new();
        let result = ctx
            .verify_opaque(document.as_bytes(), &mut plain)
            .map_err(|e| backend_err("libgpgme", e))?;
        let v = self.judge(&mut ctx, &result)?;
        Ok((v, parts.text.into_owned()))
    }

    fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<Verified, VerifyError> {
        let mut ctx = self.context()?;
        let result = ctx
            .verify_detached(signature, data)
            .map_err(|e| backend_err("libgpgme", e))?;
        self.judge(&mut ctx, &result)
    }
}
