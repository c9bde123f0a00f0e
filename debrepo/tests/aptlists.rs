//! `aptlists::stage` on suites fetched from signed test archives on a
//! loopback server: the staged InRelease (or Release and Release.gpg) are
//! the served bytes, the Packages lists the decompressed indices, and the
//! host's apt, pointed at the staged tree, reads them as its own lists.

use std::path::Path;
use std::process::Command;

use debrepo::aptlists::{stage, StagedLists, LISTS_DIR, SOURCES_PATH};
use debrepo::manifest::Manifest;
use debrepo::transport::{Transport, TransportOptions};
use debrepo::update::{fetch_archives, FetchedArchive, UpdateOptions};
use testkit::archive::{Served, SuiteBuilder};
use testkit::{Comp, DebBuilder, TempDir};

const NOW: i64 = 1_789_200_000; // just after the test archives' Date

/// A dists/ archive (xz indices only) and a flat one that serves no
/// InRelease, both signed, and a manifest over them.
struct Fixture {
    work: TempDir,
    dists: Served,
    flat: Served,
    manifest: Manifest,
}

fn fixture() -> Option<Fixture> {
    let dists = Served::start(
        "aptlists-dists",
        SuiteBuilder::new("trixie")
            .compressions(&[Comp::Xz])
            .package(DebBuilder::new("hello", "2.10-3", "amd64"))
            .package(DebBuilder::new("tzdata", "2025b-4", "all")),
    )?;
    let flat = Served::start(
        "aptlists-flat",
        SuiteBuilder::new("flat")
            .flat()
            .package(DebBuilder::new("flatpkg", "1.0", "amd64")),
    )?;
    std::fs::remove_file(flat.root().join("InRelease")).unwrap();
    let work = TempDir::new("aptlists-work");
    dists.write_keyring(&work.path().join("dists.gpg"));
    flat.write_keyring(&work.path().join("flat.gpg"));
    let text = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"dists.gpg\"\n\n\
         [[archive]]\nurl = \"{}/\"\nsuites = [\"./\"]\nsigned-by = \"flat.gpg\"\n\n[spec]\n",
        dists.url(),
        flat.url()
    );
    let path = work.path().join("Manifest.toml");
    std::fs::write(&path, &text).unwrap();
    let manifest = Manifest::load(&path).unwrap();
    Some(Fixture {
        work,
        dists,
        flat,
        manifest,
    })
}

impl Fixture {
    fn fetch(&self) -> Vec<FetchedArchive> {
        let transport = Transport::new(TransportOptions::default()).unwrap();
        let opts = UpdateOptions {
            arch: "amd64".into(),
            now: NOW,
            ..Default::default()
        };
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(fetch_archives(&self.manifest, &transport, None, &opts))
            .unwrap()
    }
    fn urls(&self) -> Vec<String> {
        vec![self.dists.url(), format!("{}/", self.flat.url())]
    }
    fn stage(&self, tree: &Path) -> StagedLists {
        std::fs::create_dir_all(tree).unwrap();
        stage(tree, &self.manifest, &self.urls(), &self.fetch()).unwrap()
    }
}

/// `http://127.0.0.1:PORT/debian` as apt names it: `127.0.0.1:PORT_debian`.
fn prefix(url: &str) -> String {
    url.split_once("://")
        .unwrap()
        .1
        .trim_end_matches('/')
        .replace('/', "_")
}

#[test]
fn staged_lists_are_the_served_bytes() {
    let Some(fx) = fixture() else { return };
    let tree = fx.work.path().join("tree");
    let staged = fx.stage(&tree);
    assert!(staged.unverified.is_empty(), "{:?}", staged.unverified);
    let lists = tree.join(LISTS_DIR);
    let d = prefix(&fx.dists.url());
    let f = prefix(&fx.flat.url());
    let names: Vec<String> = staged
        .lists
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    let mut want = vec![
        format!("{d}_dists_trixie_InRelease"),
        format!("{d}_dists_trixie_main_binary-amd64_Packages"),
        format!("{f}_._Packages"),
        format!("{f}_._Release"),
        format!("{f}_._Release.gpg"),
    ];
    want.sort();
    assert_eq!(names, want);

    let served = |root: &Path, rel: &str| std::fs::read(root.join(rel)).unwrap();
    let read = |name: &str| std::fs::read(lists.join(name)).unwrap();
    assert_eq!(
        read(&format!("{d}_dists_trixie_InRelease")),
        served(&fx.dists.root(), "dists/trixie/InRelease")
    );
    let packages = read(&format!("{d}_dists_trixie_main_binary-amd64_Packages"));
    assert_eq!(
        packages,
        debrepo::compression::read_all_with(
            debrepo::compression::Compression::Xz,
            served(
                &fx.dists.root(),
                "dists/trixie/main/binary-amd64/Packages.xz"
            )
            .as_slice()
        )
        .unwrap()
    );
    assert!(String::from_utf8_lossy(&packages).contains("Package: hello\n"));
    assert_eq!(
        read(&format!("{f}_._Release")),
        served(&fx.flat.root(), "Release")
    );
    assert_eq!(
        read(&format!("{f}_._Release.gpg")),
        served(&fx.flat.root(), "Release.gpg")
    );
    assert_eq!(
        read(&format!("{f}_._Packages")),
        served(&fx.flat.root(), "Packages")
    );

    let sources = std::fs::read_to_string(tree.join(SOURCES_PATH)).unwrap();
    assert!(
        sources.contains(&format!(
            "URIs: {}\nSuites: trixie\nComponents: main\nArchitectures: amd64\nSigned-By: /etc/apt/keyrings/rdebootstrap-1.gpg\n",
            fx.dists.url()
        )),
        "{sources}"
    );
    assert!(
        sources.contains(&format!(
            "URIs: {}/\nSuites: ./\nSigned-By: /etc/apt/keyrings/rdebootstrap-2.gpg\n",
            fx.flat.url()
        )),
        "{sources}"
    );
    assert_eq!(
        std::fs::read(tree.join("etc/apt/keyrings/rdebootstrap-2.gpg")).unwrap(),
        std::fs::read(fx.work.path().join("flat.gpg")).unwrap()
    );
}

/// The host's apt, with the staged tree as its root directory, finds the
/// archives' packages in the staged lists (no update, no network), and
/// trusts them.
#[test]
fn the_hosts_apt_reads_the_staged_lists() {
    let apt = Command::new("apt-cache").arg("--version").output().is_ok();
    if !testkit::require(apt, "apt (apt-cache, apt-get)") {
        return;
    }
    let Some(fx) = fixture() else { return };
    let tree = fx.work.path().join("tree");
    fx.stage(&tree);
    std::fs::create_dir_all(tree.join("var/lib/dpkg")).unwrap();
    std::fs::write(tree.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::create_dir_all(tree.join("var/cache/apt/archives/partial")).unwrap();
    std::fs::create_dir_all(tree.join("var/lib/apt/lists/partial")).unwrap();
    std::fs::create_dir_all(tree.join("etc/apt/preferences.d")).unwrap();
    std::fs::create_dir_all(tree.join("etc/apt/apt.conf.d")).unwrap();
    // Read before the host's configuration would be (APT_CONFIG): apt
    // then reads the tree's apt.conf.d, not the host's.
    let conf = fx.work.path().join("apt.conf");
    std::fs::write(&conf, format!("Dir \"{}/\";\n", tree.display())).unwrap();
    let run = |tool: &str, args: &[&str]| {
        let o = Command::new(tool)
            .env("APT_CONFIG", &conf)
            .arg("-o")
            .arg(format!("Dir={}", tree.display()))
            .args([
                "-o",
                "APT::Architecture=amd64",
                "-o",
                "APT::Architectures=amd64",
                "-o",
                "Dir::Etc::main=/dev/null",
                "-o",
                "Debug::NoLocking=1",
            ])
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let all =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{tool} {args:?}: {all}");
        assert!(
            !all.lines()
                .any(|l| l.starts_with("W:") || l.starts_with("E:")),
            "{tool} {args:?}: {all}"
        );
        all
    };
    let policy = run("apt-cache", &["policy", "hello", "flatpkg", "tzdata"]);
    for (pkg, version) in [
        ("hello", "2.10-3"),
        ("flatpkg", "1.0"),
        ("tzdata", "2025b-4"),
    ] {
        assert!(
            policy.contains(&format!(
                "{pkg}:\n  Installed: (none)\n  Candidate: {version}\n"
            )),
            "{policy}"
        );
    }
    let sim = run(
        "apt-get",
        &["install", "--simulate", "-y", "hello", "flatpkg"],
    );
    assert!(sim.contains("Inst hello "), "{sim}");
    assert!(sim.contains("Inst flatpkg "), "{sim}");
    assert!(!sim.contains("cannot be authenticated"), "{sim}");
}
