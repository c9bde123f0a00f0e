//! Unpacking and the dpkg database, compared with dpkg itself: the same
//! packages go through `dpkg --root A --unpack` and through
//! [`Unpacker`] + [`dpkgdb::write_unpacked`] into B; the trees, `status`,
//! `info/` and the trigger interests must be identical. Real trixie .debs
//! (those without a preinst, which `dpkg --unpack` would run) and
//! synthetic ones for what they lack (named triggers, Multi-Arch: same).

use std::path::{Path, PathBuf};
use std::process::Command;

use debrepo::deb::DebReader;
use debrepo::dpkgdb::{self, DbPackage};
use debrepo::unpack::{Ownership, PackageInfo, Unpacker};
use testkit::{tree_snapshot, DebBuilder, TempDir};

fn synthetic(dir: &Path) -> Vec<PathBuf> {
    vec![
        DebBuilder::new("trigger-demo", "1.0-1", "all")
            .field("Maintainer", "Nobody <nobody@example.invalid>")
            .field("Priority", "optional")
            .field("Homepage", "https://example.invalid/")
            .field("Description", "named triggers and conffiles\n More text.\n .\n End.")
            .control_file(
                "triggers",
                0o644,
                "interest my-trigger\ninterest-noawait /usr/share/trigger-demo\nactivate-noawait ldconfig\n",
            )
            .control_file("conffiles", 0o644, "/etc/trigger-demo.conf\n")
            .dir("./etc/")
            .file("./etc/trigger-demo.conf", "x=1\n")
            .dir("./usr/")
            .dir("./usr/share/")
            .dir("./usr/share/trigger-demo/")
            .file("./usr/share/trigger-demo/data", "data")
            .write_to(dir, "trigger-demo"),
        DebBuilder::new("libsame1", "2.0", "amd64")
            .field("Multi-Arch", "same")
            .field("Depends", "libc6 (>= 2.34)")
            .field("Description", "a Multi-Arch: same library")
            .control_file("triggers", 0o644, "activate-noawait ldconfig\n")
            .control_file("shlibs", 0o644, "libsame 1 libsame1 (>= 2.0)\n")
            .dir("./usr/")
            .dir("./usr/lib/")
            .dir("./usr/lib/x86_64-linux-gnu/")
            .file("./usr/lib/x86_64-linux-gnu/libsame.so.1", "ELF")
            .write_to(dir, "libsame1"),
        DebBuilder::new("other-listener", "1", "amd64")
            .field("Description", "also interested")
            .control_file("triggers", 0o644, "interest-await my-trigger\ninterest /usr/share/trigger-demo\n")
            .write_to(dir, "other-listener"),
    ]
}

#[test]
fn unpack_and_database_match_dpkg_unpack() {
    if !testkit::require(
        Command::new("dpkg").arg("--version").output().is_ok(),
        "dpkg",
    ) || !testkit::require(
        Ownership::for_this_process() == Ownership::Apply,
        "root (dpkg --unpack as root is the reference)",
    ) {
        return;
    }
    let work = TempDir::new("dpkgdb");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(testkit::data_dir().join("debs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            // login has a preinst, which dpkg --unpack would run; repacks
            // duplicate hostname.
            name.ends_with(".deb") && !name.starts_with("login_") && !name.contains("repack")
        })
        .collect();
    debs.sort();
    debs.extend(synthetic(work.path()));

    // A: dpkg itself.
    let a = work.path().join("a");
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(a.join(d)).unwrap();
    }
    std::fs::write(a.join("var/lib/dpkg/status"), "").unwrap();
    let o = Command::new("dpkg")
        .arg(format!("--root={}", a.display()))
        .args(["--force-architecture", "--force-depends", "--unpack"])
        .args(&debs)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dpkg: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // B: us.
    let b = work.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let readers: Vec<_> = debs.iter().map(|p| DebReader::open(p).unwrap()).collect();
    let infos = readers
        .iter()
        .map(|r| PackageInfo::from_control(r.control()).unwrap())
        .collect();
    let u = Unpacker::new(&b, Ownership::Apply, infos).unwrap();
    let mut controls = Vec::new();
    for (i, mut r) in readers.into_iter().enumerate() {
        u.unpack(i, &mut r.data().unwrap()).unwrap();
        controls.push(r.into_control());
    }
    let unpacked = u.finish();
    let db = DbPackage::all(&controls, &unpacked, |_| true);
    dpkgdb::write_unpacked(&b, "amd64", &[], &db).unwrap();

    let status = |r: &Path| std::fs::read_to_string(r.join("var/lib/dpkg/status")).unwrap();
    assert_eq!(status(&b), status(&a));
    let (mut sa, mut sb) = (tree_snapshot(&a), tree_snapshot(&b));
    // Written by dpkg as it works (backups, locks), or by us for what
    // follows (dpkg --configure writes the arch files too).
    for p in [
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/arch",
        "var/lib/dpkg/arch-native",
    ] {
        sa.remove(p);
        sb.remove(p);
    }
    for p in ["var/lib/apt", "var/lib/apt/extended_states"] {
        assert!(sb.remove(p).is_some(), "{p}");
    }
    let only_a: Vec<_> = sa.iter().filter(|(k, v)| sb.get(*k) != Some(v)).collect();
    let only_b: Vec<_> = sb.iter().filter(|(k, v)| sa.get(*k) != Some(v)).collect();
    let shown = |r: &Path, list: &[(&String, &String)]| {
        list.iter()
            .filter(|(k, _)| k.starts_with("var/lib/dpkg/"))
            .map(|(k, _)| {
                format!(
                    "{k}:\n{}",
                    std::fs::read_to_string(r.join(k)).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "dpkg only: {only_a:#?}\nours only: {only_b:#?}\n--- dpkg's:\n{}\n--- ours:\n{}",
        shown(&a, &only_a),
        shown(&b, &only_b)
    );
    for f in [
        "var/lib/dpkg/triggers/File",
        "var/lib/dpkg/triggers/my-trigger",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(sa.len() > 400, "{} paths", sa.len());
}
