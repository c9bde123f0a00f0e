//! Debian architecture names and wildcards.
//!
//! dpkg maps every architecture name to a tuple `abi-libc-os-cpu` (`amd64` is
//! `base-gnu-linux-amd64`, `armhf` is `eabihf-gnu-linux-arm`). A wildcard is a
//! tuple with `any` in some places, written short: `linux-any` is
//! `any-any-linux-any`, `any-amd64` is `any-any-any-amd64`. An architecture
//! matches a wildcard when every part is equal or `any`. `all` is the
//! architecture of architecture-independent packages and matches only `all`
//! (and the catch-all `any`, as dpkg's `debarch_is` has it).

/// The architecture of architecture-independent packages.
pub const ALL: &str = "all";

/// The four parts dpkg splits an architecture into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple<'a> {
    pub abi: &'a str,
    pub libc: &'a str,
    pub os: &'a str,
    pub cpu: &'a str,
}

// Names whose tuple is not `base-gnu-linux-<name>`, from dpkg's tupletable.
const SPECIAL: &[(&str, Tuple<'static>)] = &[
    ("armhf", t("eabihf", "gnu", "linux", "arm")),
    ("armel", t("eabi", "gnu", "linux", "arm")),
    ("x32", t("x32", "gnu", "linux", "amd64")),
    ("arm64ilp32", t("ilp32", "gnu", "linux", "arm64")),
    ("mips64el", t("abi64", "gnu", "linux", "mips64el")),
    ("mips64", t("abi64", "gnu", "linux", "mips64")),
    ("mipsn32el", t("abin32", "gnu", "linux", "mips64el")),
    ("mipsn32", t("abin32", "gnu", "linux", "mips64")),
    ("mips64r6el", t("abi64", "gnu", "linux", "mips64r6el")),
    ("mipsr6el", t("base", "gnu", "linux", "mipsr6el")),
    ("powerpcspe", t("spe", "gnu", "linux", "powerpc")),
    ("armeb", t("eabi", "gnu", "linux", "armeb")),
    ("arm", t("base", "gnu", "linux", "arm")),
];

const fn t(
    abi: &'static str,
    libc: &'static str,
    os: &'static str,
    cpu: &'static str,
) -> Tuple<'static> {
    Tuple { abi, libc, os, cpu }
}

// Prefixes `<os>-` for other systems, with the libc and os they stand for.
const OS_PREFIXES: &[(&str, &str, &str)] = &[
    ("musl-linux-", "musl", "linux"),
    ("uclibc-linux-", "uclibc", "linux"),
    ("kfreebsd-", "gnu", "kfreebsd"),
    ("knetbsd-", "gnu", "knetbsd"),
    ("hurd-", "gnu", "hurd"),
    ("freebsd-", "bsd", "freebsd"),
    ("netbsd-", "bsd", "netbsd"),
    ("openbsd-", "bsd", "openbsd"),
    ("darwin-", "bsd", "darwin"),
    ("solaris-", "sysv", "solaris"),
];

// CPU names dpkg knows (cputable).
const CPUS: &[&str] = &[
    "i386",
    "ia64",
    "alpha",
    "amd64",
    "armeb",
    "arm",
    "arm64",
    "avr32",
    "hppa",
    "loong64",
    "m32r",
    "m68k",
    "mips",
    "mipsel",
    "mipsr6",
    "mipsr6el",
    "mips64",
    "mips64el",
    "mips64r6",
    "mips64r6el",
    "nios2",
    "or1k",
    "powerpc",
    "powerpcel",
    "ppc64",
    "ppc64el",
    "riscv64",
    "s390",
    "s390x",
    "sh3",
    "sh3eb",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "arc",
];

/// The tuple of a concrete architecture name, or `None` if dpkg would not
/// know it (or for `all`/`any`).
pub fn tuple(arch: &str) -> Option<Tuple<'_>> {
    if let Some((_, tup)) = SPECIAL.iter().find(|(n, _)| *n == arch) {
        return Some(*tup);
    }
    for (prefix, libc, os) in OS_PREFIXES {
        if let Some(cpu) = arch.strip_prefix(prefix) {
            return CPUS.contains(&cpu).then_some(Tuple {
                abi: "base",
                libc,
                os,
                cpu,
            });
        }
    }
    CPUS.contains(&arch).then_some(Tuple {
        abi: "base",
        libc: "gnu",
        os: "linux",
        cpu: arch,
    })
}

/// True if `arch` is a name dpkg knows, or `all`.
pub fn is_known(arch: &str) -> bool {
    arch == ALL || tuple(arch).is_some()
}

/// True if the string is a wildcard (has an `any` part).
pub fn is_wildcard(pattern: &str) -> bool {
    pattern.split('-').any(|p| p == "any")
}

/// True if architecture `arch` matches `pattern`: equal, `any` (which also
/// matches `all`), or a wildcard such as `linux-any` or `any-amd64`.
pub fn matches(arch: &str, pattern: &str) -> bool {
    if arch == pattern || pattern == "any" {
        return true;
    }
    if arch == ALL {
        return false;
    }
    let Some(real) = tuple(arch) else {
        return false;
    };
    let parts: Vec<&str> = pattern.splitn(4, '-').collect();
    let pat = if parts.contains(&"any") {
        match parts.as_slice() {
            [abi, libc, os, cpu] => Tuple { abi, libc, os, cpu },
            [libc, os, cpu] => Tuple {
                abi: "any",
                libc,
                os,
                cpu,
            },
            [os, cpu] => Tuple {
                abi: "any",
                libc: "any",
                os,
                cpu,
            },
            _ => return true,
        }
    } else {
        match tuple(pattern) {
            Some(t) => t,
            None => return false,
        }
    };
    let eq = |p: &str, r: &str| p == "any" || p == r;
    eq(pat.abi, real.abi) && eq(pat.libc, real.libc) && eq(pat.os, real.os) && eq(pat.cpu, real.cpu)
}

/// The architecture dpkg would call native on this build host, for
/// architectures Debian builds for; `None` elsewhere.
pub fn host() -> Option<&'static str> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "riscv64" => "riscv64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64el",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64el",
        _ => return None,
    };
    Some(arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples() {
        assert_eq!(tuple("amd64").unwrap().os, "linux");
        assert_eq!(tuple("armhf").unwrap().abi, "eabihf");
        assert_eq!(tuple("hurd-amd64").unwrap().os, "hurd");
        assert_eq!(tuple("musl-linux-arm64").unwrap().libc, "musl");
        assert!(tuple("all").is_none());
        assert!(tuple("nonsense").is_none());
        assert!(is_known("all") && is_known("ppc64el") && !is_known("x86_64"));
    }

    #[test]
    fn wildcards() {
        assert!(matches("amd64", "amd64"));
        assert!(matches("amd64", "any"));
        assert!(matches("all", "any"));
        assert!(matches("all", "all"));
        assert!(!matches("amd64", "all"));
        assert!(!matches("all", "linux-any"));
        assert!(matches("amd64", "linux-any"));
        assert!(matches("armhf", "linux-any"));
        assert!(!matches("hurd-amd64", "linux-any"));
        assert!(matches("hurd-amd64", "hurd-any"));
        assert!(matches("amd64", "any-amd64"));
        assert!(matches("hurd-amd64", "any-amd64"));
        assert!(matches("x32", "any-amd64"));
        assert!(!matches("i386", "any-amd64"));
        assert!(matches("armel", "any-arm"));
        assert!(matches("armhf", "eabihf-any-any-any"));
        assert!(!matches("armel", "eabihf-any-any-any"));
        assert!(matches("musl-linux-amd64", "musl-linux-any"));
        assert!(!matches("amd64", "musl-linux-any"));
        assert!(matches("amd64", "gnu-linux-any"));
        assert!(!matches("amd64", "i386"));
        assert!(matches("kfreebsd-i386", "kfreebsd-any"));
    }
}
