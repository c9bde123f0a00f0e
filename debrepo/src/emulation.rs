//! Whether this machine can run a Debian architecture's programs, checked
//! before a build downloads anything (as `arch-test` checks it for
//! mmdebstrap).
//!
//! A tree of another architecture is unpacked like any other, but its
//! maintainer scripts and build scripts run its own programs. The kernel
//! runs them natively when the architecture is the machine's or one it
//! is compatible with (i386 on amd64, armhf and armel on arm64); else only
//! through a `binfmt_misc` handler, usually qemu-user's.
//!
//! The check reads the handlers the kernel has
//! (`/proc/sys/fs/binfmt_misc/*`: `enabled`, `interpreter PATH`,
//! `flags: …`, `offset N`, `magic HEX`, `mask HEX`) and matches each
//! enabled one against the first 20 bytes of an executable of the
//! architecture (the ELF identification, `e_type` and `e_machine`), as the
//! kernel matches them. A handler must have the `F` flag ("fix binary":
//! the kernel opens the interpreter when it is registered): the scripts
//! run in the sandbox, chrooted into the tree, where the host's
//! interpreter path does not exist.

use std::path::{Path, PathBuf};

/// Where the kernel lists its `binfmt_misc` handlers.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// How this machine runs an architecture's programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// It is this machine's architecture.
    Native,
    /// The kernel runs it directly (i386 on amd64, say).
    Compatible,
    /// Through a `binfmt_misc` handler.
    Emulated {
        /// The handler's name (`qemu-aarch64`).
        handler: String,
        /// Its interpreter (`/usr/libexec/qemu-binfmt/aarch64-binfmt-P`).
        interpreter: PathBuf,
    },
}

/// Why this machine cannot run an architecture's programs.
#[derive(Debug, thiserror::Error)]
pub enum EmulationError {
    #[error("this machine ({host}) cannot run {arch} programs, which the maintainer scripts are: no binfmt_misc handler in {} runs them (install qemu-user-static, which registers its handlers, or qemu-user and binfmt-support; check with 'arch-test {arch}'; 'build --unpack-only' needs no emulation)", dir.display())]
    NoHandler {
        host: String,
        arch: String,
        dir: PathBuf,
    },
    #[error("the binfmt_misc handler {handler} runs {arch} programs with {} but without the F flag, so the interpreter is looked up inside the tree, where it is not: register it with the F flag (qemu-user-static's handlers have it; 'update-binfmts --display {handler}' shows the flags)", interpreter.display())]
    NoFixBinary {
        arch: String,
        handler: String,
        interpreter: PathBuf,
    },
    #[error("binfmt_misc is turned off ({}/status says disabled): the kernel runs no {arch} programs (echo 1 > {}/status)", dir.display(), dir.display())]
    Disabled { arch: String, dir: PathBuf },
    #[error("architecture {arch}: no ELF machine is known for it here, so whether this machine runs its programs cannot be checked")]
    UnknownArch { arch: String },
}

/// ELF class (1: 32-bit, 2: 64-bit), data encoding (1: little, 2: big
/// endian) and `e_machine` of a Debian architecture's programs.
fn elf_of(arch: &str) -> Option<(u8, u8, u16)> {
    Some(match arch {
        "amd64" => (2, 1, 62),
        "i386" => (1, 1, 3),
        "arm64" => (2, 1, 183),
        "armhf" | "armel" => (1, 1, 40),
        "riscv64" => (2, 1, 243),
        "ppc64el" => (2, 1, 21),
        "ppc64" => (2, 2, 21),
        "s390x" => (2, 2, 22),
        "mips64el" => (2, 1, 8),
        "mipsel" => (1, 1, 8),
        "loong64" => (2, 1, 258),
        "powerpc" => (1, 2, 20),
        "sparc64" => (2, 2, 43),
        "alpha" => (2, 1, 0x9026),
        "hppa" => (1, 2, 15),
        "m68k" => (1, 2, 4),
        "sh4" => (1, 1, 42),
        "x32" => (1, 1, 62),
        _ => return None,
    })
}

/// The first 20 bytes of an executable (`ET_EXEC`) of `arch`.
fn elf_header(arch: &str) -> Option<[u8; 20]> {
    let (class, data, machine) = elf_of(arch)?;
    let mut h = [0u8; 20];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = class;
    h[5] = data;
    h[6] = 1;
    let (e_type, e_machine) = if data == 2 {
        (2u16.to_be_bytes(), machine.to_be_bytes())
    } else {
        (2u16.to_le_bytes(), machine.to_le_bytes())
    };
    h[16..18].copy_from_slice(&e_type);
    h[18..20].copy_from_slice(&e_machine);
    Some(h)
}

/// Architectures the kernel of a `host` machine runs directly.
fn compatible(host: &str, arch: &str) -> bool {
    matches!(
        (host, arch),
        ("amd64", "i386") | ("arm64", "armhf") | ("arm64", "armel")
    )
}

/// One registered handler, as its file in [`BINFMT_DIR`] describes it.
#[derive(Debug, Default)]
struct Handler {
    enabled: bool,
    interpreter: PathBuf,
    flags: String,
    offset: usize,
    magic: Vec<u8>,
    mask: Vec<u8>,
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_handler(text: &str) -> Option<Handler> {
    let mut h = Handler::default();
    let mut magic = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "enabled" {
            h.enabled = true;
        } else if let Some(v) = line.strip_prefix("interpreter ") {
            h.interpreter = PathBuf::from(v);
        } else if let Some(v) = line.strip_prefix("flags:") {
            h.flags = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("offset ") {
            h.offset = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("magic ") {
            h.magic = hex(v.trim())?;
            magic = true;
        } else if let Some(v) = line.strip_prefix("mask ") {
            h.mask = hex(v.trim())?;
        }
    }
    // Extension handlers (no magic) never match an ELF program.
    magic.then_some(h)
}

impl Handler {
    fn matches(&self, header: &[u8]) -> bool {
        self.magic.iter().enumerate().all(|(i, &m)| {
            let mask = self.mask.get(i).copied().unwrap_or(0xff);
            header
                .get(self.offset + i)
                .is_some_and(|&b| b & mask == m & mask)
        })
    }
}

/// Whether this machine (`host`) runs `arch` programs, judged by the
/// handlers in `binfmt_dir` ([`BINFMT_DIR`] on a real machine).
pub fn check_in(binfmt_dir: &Path, host: &str, arch: &str) -> Result<Support, EmulationError> {
    if host == arch {
        return Ok(Support::Native);
    }
    if compatible(host, arch) {
        return Ok(Support::Compatible);
    }
    let header = elf_header(arch).ok_or_else(|| EmulationError::UnknownArch {
        arch: arch.to_owned(),
    })?;
    let no_handler = || EmulationError::NoHandler {
        host: host.to_owned(),
        arch: arch.to_owned(),
        dir: binfmt_dir.to_owned(),
    };
    let Ok(entries) = std::fs::read_dir(binfmt_dir) else {
        return Err(no_handler());
    };
    if std::fs::read_to_string(binfmt_dir.join("status")).is_ok_and(|s| s.trim() == "disabled") {
        return Err(EmulationError::Disabled {
            arch: arch.to_owned(),
            dir: binfmt_dir.to_owned(),
        });
    }
    let mut names: Vec<_> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "status" && n != "register")
        .collect();
    names.sort();
    let mut without_f = None;
    for name in names {
        let Ok(text) = std::fs::read_to_string(binfmt_dir.join(&name)) else {
            continue;
        };
        let Some(h) = parse_handler(&text) else {
            continue;
        };
        if !h.enabled || !h.matches(&header) {
            continue;
        }
        if h.flags.contains('F') {
            return Ok(Support::Emulated {
                handler: name,
                interpreter: h.interpreter,
            });
        }
        without_f.get_or_insert((name, h.interpreter));
    }
    match without_f {
        Some((handler, interpreter)) => Err(EmulationError::NoFixBinary {
            arch: arch.to_owned(),
            handler,
            interpreter,
        }),
        None => Err(no_handler()),
    }
}

/// [`check_in`] for this machine: its architecture
/// ([`crate::arch::host`]) and the kernel's handlers.
pub fn check(arch: &str) -> Result<Support, EmulationError> {
    let host = crate::arch::host().unwrap_or("unknown");
    check_in(Path::new(BINFMT_DIR), host, arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// qemu-user-static's aarch64 handler, as the kernel lists it.
    const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn dir(handlers: &[(&str, &str)]) -> testkit::TempDir {
        let d = testkit::TempDir::new("binfmt");
        std::fs::write(d.path().join("status"), "enabled\n").unwrap();
        std::fs::write(d.path().join("register"), "").unwrap();
        for (name, text) in handlers {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn native_and_compatible_need_no_handler() {
        let d = dir(&[]);
        assert_eq!(
            check_in(d.path(), "amd64", "amd64").unwrap(),
            Support::Native
        );
        assert_eq!(
            check_in(d.path(), "amd64", "i386").unwrap(),
            Support::Compatible
        );
    }

    #[test]
    fn a_handler_with_f_runs_the_architecture() {
        let d = dir(&[("qemu-aarch64", AARCH64)]);
        assert_eq!(
            check_in(d.path(), "amd64", "arm64").unwrap(),
            Support::Emulated {
                handler: "qemu-aarch64".into(),
                interpreter: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P".into(),
            }
        );
        // It does not run other architectures.
        let err = check_in(d.path(), "amd64", "riscv64").unwrap_err();
        assert!(matches!(err, EmulationError::NoHandler { .. }), "{err}");
        assert!(
            err.to_string().contains("install qemu-user-static"),
            "{err}"
        );
    }

    #[test]
    fn disabled_or_without_f_is_refused() {
        let d = dir(&[("qemu-aarch64", &AARCH64.replacen("enabled", "disabled", 1))]);
        assert!(matches!(
            check_in(d.path(), "amd64", "arm64"),
            Err(EmulationError::NoHandler { .. })
        ));
        let d = dir(&[("qemu-aarch64", &AARCH64.replace("POCF", "OC"))]);
        let err = check_in(d.path(), "amd64", "arm64").unwrap_err();
        assert!(matches!(err, EmulationError::NoFixBinary { .. }), "{err}");
        assert!(err.to_string().contains("without the F flag"), "{err}");
        let d = dir(&[("qemu-aarch64", AARCH64)]);
        std::fs::write(d.path().join("status"), "disabled\n").unwrap();
        assert!(matches!(
            check_in(d.path(), "amd64", "arm64"),
            Err(EmulationError::Disabled { .. })
        ));
    }

    #[test]
    fn headers_match_the_kernels_handlers() {
        // Big-endian and 32-bit headers against qemu's own magic.
        let s390x = parse_handler("enabled\ninterpreter /q\nflags: F\noffset 0\nmagic 7f454c46020201000000000000000000000200016\nmask ffffffffffffff00fffffffffffffffffffeffff\n");
        // An odd-length hex string is not a handler we can read.
        assert!(s390x.is_none());
        let s390x = parse_handler("enabled\ninterpreter /q\nflags: F\noffset 0\nmagic 7f454c4602020100000000000000000000020016\nmask ffffffffffffff00fffffffffffffffffffeffff\n").unwrap();
        assert!(s390x.matches(&elf_header("s390x").unwrap()));
        assert!(!s390x.matches(&elf_header("arm64").unwrap()));
        let arm = parse_handler("enabled\ninterpreter /q\nflags: F\noffset 0\nmagic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n").unwrap();
        assert!(arm.matches(&elf_header("armhf").unwrap()));
        assert!(!arm.matches(&elf_header("i386").unwrap()));
    }
}
