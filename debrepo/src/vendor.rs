//! Vendor presets: the archive keyrings of the distributions rdebootstrap
//! knows, shipped with the library (taken from the distributions' own
//! keyring packages; see `keyrings/README.md`).

use crate::verify::{Keyring, VerifyError};

/// A distribution with a shipped keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Debian,
    Ubuntu,
}

/// A vendor name that has no preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown vendor {0:?}: known are debian and ubuntu; otherwise give the archive's keyring with signed-by")]
pub struct UnknownVendor(pub String);

impl std::str::FromStr for Vendor {
    type Err = UnknownVendor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "debian" => Ok(Vendor::Debian),
            "ubuntu" => Ok(Vendor::Ubuntu),
            other => Err(UnknownVendor(other.to_owned())),
        }
    }
}

impl Vendor {
    /// The vendor's name as written in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Debian => "debian",
            Vendor::Ubuntu => "ubuntu",
        }
    }

    /// The shipped archive keyring, as the binary keyring file the
    /// distribution's keyring package installs.
    pub fn keyring_bytes(self) -> &'static [u8] {
        match self {
            Vendor::Debian => include_bytes!("../keyrings/debian-archive-keyring.gpg"),
            Vendor::Ubuntu => include_bytes!("../keyrings/ubuntu-archive-keyring.gpg"),
        }
    }

    /// The file name the distribution gives that keyring
    /// (`debian-archive-keyring.gpg`), for writing it beside a manifest.
    pub fn keyring_file_name(self) -> &'static str {
        match self {
            Vendor::Debian => "debian-archive-keyring.gpg",
            Vendor::Ubuntu => "ubuntu-archive-keyring.gpg",
        }
    }

    /// The archive keyring.
    pub fn keyring(self) -> Result<Keyring, VerifyError> {
        let name = match self {
            Vendor::Debian => "the shipped Debian archive keyring",
            Vendor::Ubuntu => "the shipped Ubuntu archive keyring",
        };
        Keyring::from_bytes(self.keyring_bytes(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_keyrings_load() {
        assert_eq!(Vendor::Debian.keyring().unwrap().len(), 9);
        assert_eq!(Vendor::Ubuntu.keyring().unwrap().len(), 3);
        assert_eq!("ubuntu".parse::<Vendor>(), Ok(Vendor::Ubuntu));
        assert!("devuan"
            .parse::<Vendor>()
            .unwrap_err()
            .to_string()
            .contains("signed-by"));
    }
}
