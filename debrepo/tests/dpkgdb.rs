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

/// A staged build's database: the essential part written and configured
/// by dpkg, the rest unpacked beside the tree, merged, and added with
/// [`dpkgdb::add_unpacked`]. dpkg then finishes the rest, processes the
/// file trigger the rest activated in the configured part, and agrees on
/// who owns what.
#[test]
fn packages_added_after_a_dpkg_run_are_configured_with_their_triggers() {
    if !testkit::require(
        Command::new("dpkg").arg("--version").output().is_ok(),
        "dpkg",
    ) || !testkit::require(
        Ownership::for_this_process() == Ownership::Apply,
        "root (dpkg --root as root is the reference)",
    ) {
        return;
    }
    let work = TempDir::new("dpkgdb-staged");
    let ess = DebBuilder::new("ess", "1", "all")
        .field("Essential", "yes")
        .field("Description", "the essential part")
        .control_file("triggers", 0o644, "interest-noawait /usr/share/ess-watch\n")
        .dir("./tmp/")
        .dir("./etc/")
        .file("./etc/ess-owned", "ess")
        .dir("./usr/")
        .dir("./usr/share/")
        .dir("./usr/share/ess-watch/")
        .write_to(work.path(), "ess");
    let rest = DebBuilder::new("rest", "1", "all")
        .field("Depends", "ess")
        .field("Replaces", "ess")
        .field("Description", "the rest")
        .control_file("triggers", 0o644, "interest rest-trigger\n")
        .dir("./etc/")
        .file("./etc/ess-owned", "rest took it")
        .dir("./usr/")
        .dir("./usr/share/")
        .dir("./usr/share/ess-watch/")
        .file("./usr/share/ess-watch/item", "watched")
        .write_to(work.path(), "rest");
    let root = work.path().join("tree");
    std::fs::create_dir_all(&root).unwrap();
    let readers: Vec<_> = [&ess, &rest]
        .iter()
        .map(|p| DebReader::open(p).unwrap())
        .collect();
    let infos = readers
        .iter()
        .map(|r| PackageInfo::from_control(r.control()).unwrap())
        .collect();
    let mut u = Unpacker::new(&root, Ownership::Apply, infos).unwrap();
    let mut readers = readers.into_iter();
    let mut first = readers.next().unwrap();
    u.unpack(0, &mut first.data().unwrap()).unwrap();
    let mut controls = vec![first.into_control()];
    let so_far = u.snapshot();
    let db = DbPackage::all(&controls, &so_far, |_| true);
    dpkgdb::write_unpacked(&root, "amd64", &[], &db).unwrap();
    let dpkg = |args: &[&str]| {
        let o = Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "dpkg {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    dpkg(&["--configure", "-a"]);
    std::fs::create_dir(root.join("tmp/stage")).unwrap();
    u.stage_into(&root.join("tmp/stage")).unwrap();
    let mut second = readers.next().unwrap();
    u.unpack(1, &mut second.data().unwrap()).unwrap();
    controls.push(second.into_control());
    u.merge_stage().unwrap();
    std::fs::remove_dir_all(root.join("tmp/stage")).unwrap();
    let unpacked = u.finish();
    let db = DbPackage::all(&controls, &unpacked, |i| i == 1);
    dpkgdb::add_unpacked(&root, "amd64", &db[..1], &db[1..]).unwrap();
    let unincorp = std::fs::read_to_string(root.join("var/lib/dpkg/triggers/Unincorp")).unwrap();
    assert_eq!(unincorp, "/usr/share/ess-watch -\n");
    let out = dpkg(&["--configure", "-a"]);
    assert!(out.contains("Setting up rest (1)"), "{out}");
    assert!(out.contains("Processing triggers for ess (1)"), "{out}");
    let listed = dpkg(&["-l"]);
    for p in ["ess", "rest"] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with("ii  ") && l.split_whitespace().nth(1) == Some(p)),
            "{listed}"
        );
    }
    assert!(dpkg(&["-S", "/etc/ess-owned"]).starts_with("rest: "));
    assert_eq!(dpkg(&["--audit"]), "");
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/dpkg/triggers/rest-trigger")).unwrap(),
        "rest\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/apt/extended_states")).unwrap(),
        "Package: ess\nArchitecture: amd64\nAuto-Installed: 1\n"
    );
}
