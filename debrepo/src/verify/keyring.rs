//! Sets of trusted public keys, from binary or ASCII-armored keyrings.

use pgp::composed::{Deserializable, SignedPublicKey};

use super::VerifyError;

/// Trusted public keys.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub(crate) keys: Vec<SignedPublicKey>,
    /// Where the keys came from, for messages.
    pub(crate) names: Vec<String>,
    /// The keyrings as given, for backends that import them elsewhere.
    pub(crate) raw: Vec<Vec<u8>>,
}

impl Keyring {
    /// Parse keys from a keyring: binary (concatenated transferable public
    /// keys, as in `/usr/share/keyrings/*.gpg`) or one or more armored
    /// blocks. `name` says where they come from, for errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Keyring, VerifyError> {
        let bad = |e: pgp::errors::Error| VerifyError::BadKeyring {
            source_name: name.to_owned(),
            source: Box::new(e),
        };
        let armored = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .is_some_and(|i| bytes[i..].starts_with(b"-----BEGIN PGP"));
        let keys: Vec<SignedPublicKey> = if armored {
            let text = std::str::from_utf8(bytes).map_err(|e| VerifyError::BadKeyring {
                source_name: name.to_owned(),
                source: Box::new(e),
            })?;
            let mut keys = Vec::new();
            // Several armored blocks may follow each other.
            for block in split_armor_blocks(text) {
                let (it, _) = SignedPublicKey::from_string_many(block).map_err(bad)?;
                for k in it {
                    keys.push(k.map_err(bad)?);
                }
            }
            keys
        } else {
            SignedPublicKey::from_bytes_many(bytes)
                .map_err(bad)?
                .collect::<Result<_, _>>()
                .map_err(bad)?
        };
        if keys.is_empty() {
            return Err(VerifyError::EmptyKeyring {
                source_name: name.to_owned(),
            });
        }
        Ok(Keyring {
            keys,
            names: vec![name.to_owned()],
            raw: vec![bytes.to_vec()],
        })
    }

    /// Add the keys of another keyring.
    pub fn extend(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
        self.names.extend(other.names);
        self.raw.extend(other.raw);
    }

    /// Number of primary keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Primary key fingerprints (uppercase hex).
    pub fn fingerprints(&self) -> Vec<String> {
        use pgp::types::KeyDetails;
        self.keys
            .iter()
            .map(|k| hex_upper(k.primary_key.fingerprint().as_bytes()))
            .collect()
    }
}

fn split_armor_blocks(text: &str) -> Vec<&str> {
    const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PGP") {
        let from = &rest[start..];
        let Some(end) = from.find(END) else {
            out.push(from);
            break;
        };
        out.push(&from[..end + END.len()]);
        rest = &from[end + END.len()..];
    }
    out
}

pub(crate) fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
