//! `build --sbom`, end to end on real Debian data (opt-in:
//! RDEBOOTSTRAP_E2E=1, as root; `.ci/run` sets it): trixie minbase, with a
//! staged file artifact, from the loopback partial mirror (as in
//! `outputs.rs`: the workplace's `partial-mirror.py`, else the host's
//! Debian mirror directly).
//!
//! - An SPDX and a CycloneDX SBOM of one build pass the reference
//!   validators (`spdx-tools`' `pyspdxtools -i`, and CycloneDX's JSON
//!   schema through `cyclonedx-python-lib`; see [`testkit::sbomcheck`],
//!   installed by `.ci/run`, a failure under CI when missing).
//! - The (name, version, architecture) of the packages in each is what
//!   the host's `dpkg-query --admindir=TREE/var/lib/dpkg -W` lists; each
//!   has its .deb's SHA256 from the lock and a `deb` package URL of the
//!   tree's vendor and codename; licenses and dependencies are there; the
//!   archive has the lock's InRelease digest and signer; the artifact its
//!   hash.
//! - A second build of the same lock, with `-o` and no `-p` (the tree
//!   removed afterwards), writes the same bytes.
//!
//! Not gated: a name with another ending, or in no directory, is refused
//! before the manifest is read.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::common::{rdeb, test_mirror};
use serde_json::Value;

/// Opted in, with what the tests need: else skipped (a failure under CI
/// or RDEBOOTSTRAP_E2E, which promise them).
fn enabled(what: &str) -> bool {
    common::e2e(what)
        && testkit::require(common::is_root(), "root (building trees as root)")
        && testkit::require(common::works("dpkg-query", "--version"), "dpkg-query")
}

/// `(name, version, arch)` of every package of the tree, by dpkg-query.
fn dpkg_query(tree: &Path) -> BTreeSet<(String, String, String)> {
    let o = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            tree.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${Package} ${Version} ${Architecture}\\n"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dpkg-query: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut w = l.split(' ').map(str::to_owned);
            (w.next().unwrap(), w.next().unwrap(), w.next().unwrap())
        })
        .collect()
}

/// The value of qualifier `key` of a package URL.
fn qualifier(purl: &str, key: &str) -> String {
    purl.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|q| q.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{purl}: no {key}"))
        .to_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn sboms_of_trixie_minbase_validate_and_list_dpkgs_packages() {
    if !enabled("SBOMs of trixie minbase") {
        return;
    }
    let Some(python) = testkit::sbomcheck::required_python() else {
        return;
    };
    let work = testkit::TempDir::new("e2e-sbom");
    let d = work.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    rdeb(
        d,
        &[
            "init",
            "--url",
            &test_mirror(),
            "--suite",
            "trixie",
            "--components",
            "main",
            "--signed-by",
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ],
    );
    std::fs::write(d.join("app.conf"), "key=1\n").unwrap();
    rdeb(d, &["artifact", "add", "app.conf", "/etc/app.conf"]);
    rdeb(d, &["stage", "app.conf"]);
    let cache = d.join("cache").display().to_string();
    rdeb(
        d,
        &["update", "-q", "--arch", "amd64", "--cache-dir", &cache],
    );
    // Into a directory (kept), or into an output alone (the tree is
    // removed afterwards, the SBOMs written before).
    let build = |into: &[&str], tag: &str| {
        let spdx = format!("{tag}.spdx.json");
        let cdx = format!("{tag}.cdx.json");
        let mut args = vec!["build", "--arch", "amd64", "--cache-dir", &cache];
        args.extend(into);
        args.extend(["--sbom", &spdx, "--sbom", &cdx]);
        let o = rdeb(d, &args);
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(
            said.contains(&format!(
                "SBOMs {spdx} (SPDX 2.3) and {cdx} (CycloneDX 1.6)"
            )),
            "{said}"
        );
        (d.join(spdx), d.join(cdx))
    };
    let (spdx, cdx) = build(&["-p", "tree"], "one");
    testkit::sbomcheck::validate_spdx(&python, &spdx).unwrap();
    testkit::sbomcheck::validate_cyclonedx(&python, &cdx).unwrap();
    eprintln!(
        "SPDX {} bytes, CycloneDX {} bytes: both valid",
        std::fs::metadata(&spdx).unwrap().len(),
        std::fs::metadata(&cdx).unwrap().len()
    );

    let lock = debrepo::lock::Lock::load(&d.join("Manifest.amd64.lock")).unwrap();
    let locked = lock.spec("").unwrap();
    let installed = dpkg_query(&d.join("tree"));
    assert_eq!(installed.len(), locked.packages.len());

    // SPDX.
    let doc = read_json(&spdx);
    let packages = doc["packages"].as_array().unwrap();
    let debs: Vec<&Value> = packages
        .iter()
        .filter(|p| {
            p["SPDXID"]
                .as_str()
                .unwrap()
                .starts_with("SPDXRef-Package-deb-")
        })
        .collect();
    let mut listed = BTreeSet::new();
    let mut licensed = 0;
    for p in &debs {
        let purl = p["externalRefs"][0]["referenceLocator"].as_str().unwrap();
        assert!(purl.starts_with("pkg:deb/debian/"), "{purl}");
        assert_eq!(qualifier(purl, "distro"), "trixie", "{purl}");
        let (name, version) = (
            p["name"].as_str().unwrap(),
            p["versionInfo"].as_str().unwrap(),
        );
        let arch = qualifier(purl, "arch");
        let l = locked
            .packages
            .iter()
            .find(|l| l.name == name && l.arch == arch)
            .unwrap_or_else(|| panic!("{name}:{arch} is not locked"));
        assert_eq!(
            p["checksums"][0]["checksumValue"],
            l.sha256.as_str(),
            "{name}"
        );
        if p["licenseDeclared"] != "NOASSERTION" {
            licensed += 1;
        }
        listed.insert((name.to_owned(), version.to_owned(), arch));
    }
    assert_eq!(listed, installed, "SPDX packages against dpkg-query");
    assert!(licensed > 0, "no package with a declared license");
    let relationships = doc["relationships"].as_array().unwrap();
    let depends = relationships
        .iter()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .count();
    assert!(
        relationships
            .iter()
            .any(|r| r["relationshipType"] == "DEPENDS_ON"
                && r["spdxElementId"] == "SPDXRef-Package-deb-apt-amd64"
                && r["relatedSpdxElement"] == "SPDXRef-Package-deb-libc6-amd64"),
        "apt depends on libc6"
    );
    eprintln!(
        "SPDX: {} packages, {licensed} with a declared license, {depends} dependencies",
        debs.len()
    );
    let archive = packages
        .iter()
        .find(|p| p["SPDXID"] == "SPDXRef-Archive-0")
        .unwrap();
    assert_eq!(
        archive["checksums"][0]["checksumValue"],
        lock.archives[0].release_sha256.as_str()
    );
    let signer = lock.archives[0].signer.as_deref().unwrap();
    assert!(archive["comment"].as_str().unwrap().contains(signer));
    let artifact = packages.iter().find(|p| p["name"] == "app.conf").unwrap();
    let hash = debrepo::artifact::sri_blake3(b"key=1\n");
    assert!(artifact["comment"].as_str().unwrap().contains(&hash));

    // CycloneDX.
    let doc = read_json(&cdx);
    let components = doc["components"].as_array().unwrap();
    let mut listed = BTreeSet::new();
    for c in components.iter().filter(|c| c["type"] == "library") {
        let purl = c["purl"].as_str().unwrap();
        assert_eq!(c["bom-ref"], purl);
        let arch = qualifier(purl, "arch");
        let name = c["name"].as_str().unwrap();
        let l = locked
            .packages
            .iter()
            .find(|l| l.name == name && l.arch == arch)
            .unwrap();
        assert_eq!(c["hashes"][0]["content"], l.sha256.as_str(), "{name}");
        listed.insert((
            name.to_owned(),
            c["version"].as_str().unwrap().to_owned(),
            arch,
        ));
    }
    assert_eq!(listed, installed, "CycloneDX components against dpkg-query");
    let file = components.iter().find(|c| c["type"] == "file").unwrap();
    assert_eq!(file["name"], "app.conf");
    assert_eq!(file["hashes"][0]["alg"], "BLAKE3");
    assert_eq!(
        file["hashes"][0]["content"],
        blake3_hex(&hash),
        "the artifact's hash"
    );
    let dependencies = doc["dependencies"].as_array().unwrap();
    assert_eq!(
        dependencies.len(),
        installed.len() + 1,
        "each package's, and the tree's"
    );

    // The same lock, the same bytes; an OCI image holds them too, as
    // artifacts whose subject is the image.
    let (spdx2, cdx2) = build(&["-o", "two.oci"], "two");
    let layout = d.join("two.oci");
    let index = read_json(&layout.join("index.json"));
    let blob = |digest: &str| layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 3, "{index}");
    let image = manifests[0]["digest"].as_str().unwrap();
    for (m, file, kind) in [
        (&manifests[1], &spdx2, "application/spdx+json"),
        (&manifests[2], &cdx2, "application/vnd.cyclonedx+json"),
    ] {
        assert_eq!(m["artifactType"], kind);
        let artifact = read_json(&blob(m["digest"].as_str().unwrap()));
        assert_eq!(artifact["subject"]["digest"], image);
        assert_eq!(artifact["layers"][0]["mediaType"], kind);
        let data = std::fs::read(blob(artifact["layers"][0]["digest"].as_str().unwrap())).unwrap();
        assert!(data == std::fs::read(file).unwrap(), "{kind} in the image");
    }
    assert!(
        std::fs::read(&spdx).unwrap() == std::fs::read(&spdx2).unwrap(),
        "two builds, two SPDX documents"
    );
    assert!(
        std::fs::read(&cdx).unwrap() == std::fs::read(&cdx2).unwrap(),
        "two builds, two CycloneDX documents"
    );
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("rdebootstrap-tmp"))
        .collect();
    assert!(left.is_empty(), "left beside the SBOMs: {left:?}");
}

/// The hex of an SRI's digest.
fn blake3_hex(sri: &str) -> String {
    let s = debrepo::artifact::Sri::parse(sri).unwrap();
    s.digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is wrong with `--sbom` is said before the manifest is even read.
#[test]
fn bad_sbom_names_are_refused_first() {
    let work = testkit::TempDir::new("sbom-refused");
    let d = work.path();
    std::fs::create_dir(d.join("dir.cdx.json")).unwrap();
    let fails = |args: &[&str], says: &[&str]| {
        let o = Command::new(common::exe())
            .args(["build", "-p", "tree"])
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && says.iter().all(|s| err.contains(s)),
            "{args:?}: {err}"
        );
    };
    fails(
        &["--sbom", "x.json"],
        &[
            "x.json",
            "NAME.spdx.json (SPDX 2.3)",
            "NAME.cdx.json (CycloneDX 1.6)",
        ],
    );
    fails(
        &["--sbom", "ok.spdx.json", "--sbom", "bom.xml"],
        &["bom.xml", ".spdx.json", ".cdx.json"],
    );
    fails(
        &["--sbom", "nowhere/x.spdx.json"],
        &["no directory nowhere to write the SBOM in"],
    );
    fails(&["--sbom", "dir.cdx.json"], &["a directory, not a file"]);
    // Nothing was made.
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["dir.cdx.json"]);
}
