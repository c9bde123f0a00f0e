//! Small root trees made of the host's own programs: for the sandbox's
//! tests and for running rdebootstrap inside a chroot.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Copy `program` (a path on the host) and the libraries it loads (as
/// `ldd` lists them) into `root`, at the same paths, symlinked names and
/// their targets alike.
pub fn copy_with_libraries(root: &Path, program: &Path) {
    let mut files = vec![program.to_owned()];
    let ldd = Command::new("ldd").arg(program).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        if let Some(lib) = line.split_whitespace().find(|w| w.starts_with('/')) {
            files.push(PathBuf::from(lib));
        }
    }
    for f in files {
        let real = std::fs::canonicalize(&f).unwrap();
        for p in [&f, &real] {
            let dest = root.join(p.strip_prefix("/").unwrap());
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&real, &dest).unwrap();
        }
    }
}

/// The device nodes a chroot needs in `root/dev`, as debootstrap makes
/// them (root only).
pub fn make_dev_nodes(root: &Path) {
    std::fs::create_dir_all(root.join("dev")).unwrap();
    for (node, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let made = Command::new("mknod")
            .args(["-m", "666"])
            .arg(root.join("dev").join(node))
            .args(["c", &major.to_string(), &minor.to_string()])
            .status()
            .unwrap();
        assert!(made.success(), "mknod {node}");
    }
}
