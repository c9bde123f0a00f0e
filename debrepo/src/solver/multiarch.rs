//! Multi-Arch: which architectures a relation accepts.
//!
//! The universe holds the native architecture and any foreign ones, each
//! given a *slot* (0 is native; `Architecture: all` packages count as
//! native, as dpkg treats them). The rules, as dpkg and apt apply them:
//! - an unqualified Depends/Pre-Depends/Recommends is satisfied by a package
//!   of the depender's own architecture (`all` → native), or by a
//!   `Multi-Arch: foreign` package of any architecture;
//! - `name:any` is satisfied by a `Multi-Arch: allowed` package of any
//!   architecture, and by nothing else;
//! - `name:native` and `name:<arch>` only by that architecture;
//! - Provides follow the provider's architecture and Multi-Arch the same way;
//! - Conflicts and Breaks without a qualifier (or with `:any`) apply to
//!   packages of every architecture;
//! - one name may be installed for several architectures only when every
//!   instance is `Multi-Arch: same` and they share one version.

use crate::packages::{BinaryPackage, MultiArch};

/// An architecture slot: 0 is native (with `all`), then the foreign ones.
pub type Slot = u8;

/// What a relation accepts of a candidate's architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchRule {
    /// Every architecture (negative relations).
    Any,
    /// The depender's own slot, or `Multi-Arch: foreign` of any.
    Implicit(Slot),
    /// Exactly this slot.
    Exact(Slot),
    /// `Multi-Arch: allowed` of any architecture (`:any`).
    Allowed,
    /// Nothing (a qualifier naming an architecture not in the universe).
    Never,
}

impl ArchRule {
    /// The rule for a positive relation (Depends and the like) with this
    /// qualifier, written by a package in slot `depender`. `slot_of` maps
    /// an architecture name to its slot, if the universe has it.
    pub fn positive(
        qualifier: Option<&str>,
        depender: Slot,
        slot_of: impl Fn(&str) -> Option<Slot>,
    ) -> ArchRule {
        match qualifier {
            None => ArchRule::Implicit(depender),
            Some("any") => ArchRule::Allowed,
            Some("native") => ArchRule::Exact(0),
            Some(arch) => slot_of(arch).map_or(ArchRule::Never, ArchRule::Exact),
        }
    }

    /// The rule for a Conflicts/Breaks (or a forbid) with this qualifier.
    pub fn negative(qualifier: Option<&str>, slot_of: impl Fn(&str) -> Option<Slot>) -> ArchRule {
        match qualifier {
            None | Some("any") => ArchRule::Any,
            Some("native") => ArchRule::Exact(0),
            Some(arch) => slot_of(arch).map_or(ArchRule::Never, ArchRule::Exact),
        }
    }

    /// True if a candidate in `slot` with this package's Multi-Arch passes.
    pub fn admits(self, slot: Slot, p: &BinaryPackage<'_>) -> bool {
        match self {
            ArchRule::Any => true,
            ArchRule::Implicit(d) => slot == d || p.multi_arch == MultiArch::Foreign,
            ArchRule::Exact(s) => slot == s,
            ArchRule::Allowed => p.multi_arch == MultiArch::Allowed,
            ArchRule::Never => false,
        }
    }

    /// True if some candidate in `slot` could pass (so that a set over
    /// that slot is worth building).
    pub fn may_admit(self, slot: Slot) -> bool {
        match self {
            ArchRule::Exact(s) => slot == s,
            ArchRule::Never => false,
            _ => true,
        }
    }
}

/// True if two instances of one package name, in different slots, may be
/// installed together: both `Multi-Arch: same`, same version.
pub fn coinstallable(a: &BinaryPackage<'_>, b: &BinaryPackage<'_>) -> bool {
    a.multi_arch == MultiArch::Same && b.multi_arch == MultiArch::Same && a.version == b.version
}
