//! One OCI image for several platforms, end to end on real Debian data
//! (opt-in: RDEBOOTSTRAP_E2E=1, as root, with skopeo and an arm64
//! binfmt_misc handler; `.ci/run` sets them up): trixie's essential set
//! for amd64 and arm64 from the loopback partial mirror (see
//! [`testkit::mirror`]), each locked in its own `Manifest.ARCH.lock`, built
//! with `build --arch amd64,arm64 --format oci`.
//!
//! - `skopeo inspect --raw` reads the tag as an image index with one
//!   manifest per platform, and `--override-arch arm64` picks arm64's,
//!   whose config says arm64.
//! - With `--layers spec`, each platform's image has a layer per spec.
//! - With `--sbom NAME.spdx.json`, each platform has its own SBOM
//!   (`NAME.ARCH.spdx.json`), also in the image as a referrer of that
//!   platform's manifest.
//! - A second build, run at the same time as the first and sharing its
//!   .deb cache, gives the same bytes, file for file (SBOMs too).
//! - Without an OCI output, several architectures are refused.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::{rdeb, test_mirror, works};

fn enabled(what: &str) -> bool {
    common::e2e(what)
        && testkit::require(common::is_root(), "root (building trees as root)")
        && testkit::require(works("skopeo", "--version"), "skopeo")
        && testkit::require(
            debrepo::emulation::check("arm64").is_ok(),
            "a binfmt_misc handler for arm64 (qemu-user-static)",
        )
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn skopeo(args: &[&str]) -> serde_json::Value {
    let o = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn an_amd64_and_arm64_image_is_one_reproducible_index() {
    if !enabled("a multi-platform OCI image") {
        return;
    }
    let work = testkit::TempDir::new("e2e-platforms");
    let d = work.path();
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"/usr/share/keyrings/debian-archive-keyring.gpg\"\n\n[spec.base]\nvariant = \"essential\"\n\n[spec.hello]\nextends = \"base\"\ninclude = [\"hello\"]\n",
            test_mirror()
        ),
    )
    .unwrap();
    let cache = d.join("cache").display().to_string();
    for arch in ["amd64", "arm64"] {
        rdeb(d, &["update", "-q", "--arch", arch, "--cache-dir", &cache]);
        assert!(d.join(format!("Manifest.{arch}.lock")).is_file());
    }
    // Several architectures make an image only.
    let o = Command::new(common::exe())
        .args(["build", "--arch", "amd64,arm64", "-p", "tree"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("give --output DIR with --format oci"),
        "{err}"
    );
    // The two builds at once, sharing the .deb cache: each core runs one
    // (arm64's maintainer scripts under qemu are most of the time), and
    // the builds may not depend on running alone.
    let at = std::time::Instant::now();
    common::at_once(&["img1", "img2"], |out| {
        rdeb(
            d,
            &[
                "build",
                "-q",
                "--arch",
                "amd64,arm64",
                "--cache-dir",
                &cache,
                "-s",
                "hello",
                "--layers",
                "spec",
                "--sbom",
                &format!("{out}.spdx.json"),
                "--format",
                "oci",
                "-o",
                out,
            ],
        )
    });
    eprintln!("two amd64+arm64 images at once in {:.1?}", at.elapsed());
    let (one, two) = (files(&d.join("img1")), files(&d.join("img2")));
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        two.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &one {
        assert!(two[path] == *bytes, "{path} differs between two builds");
    }
    // One SBOM per platform, of that platform's packages, the same bytes
    // from the same locks.
    for arch in ["amd64", "arm64"] {
        let sbom = |img: &str| std::fs::read(d.join(format!("{img}.{arch}.spdx.json"))).unwrap();
        assert!(sbom("img1") == sbom("img2"), "{arch}'s SBOM differs");
        let text = String::from_utf8(sbom("img1")).unwrap();
        assert!(text.contains(&format!("arch={arch}")), "{arch}'s SBOM");
        assert!(text.contains("pkg:deb/debian/hello@"), "{arch}'s SBOM");
        let other = if arch == "amd64" { "arm64" } else { "amd64" };
        assert!(!text.contains(&format!("arch={other}")), "{arch}'s SBOM");
    }
    assert!(!d.join("img1.spdx.json").exists());

    // The tag names the platforms' index; each platform's manifest has its
    // SBOM as a referrer listed after it, and a layer per spec.
    let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
    let blob = |digest: &str| json(&one[&format!("blobs/sha256/{}", &digest["sha256:".len()..])]);
    let top = json(&one["index.json"]);
    let top = top["manifests"].as_array().unwrap();
    assert_eq!(top.len(), 3, "the platforms' index and two SBOMs: {top:?}");
    let nested = blob(top[0]["digest"].as_str().unwrap());
    let platform_manifests: Vec<&str> = nested["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    let mut subjects = Vec::new();
    for r in &top[1..] {
        assert_eq!(r["artifactType"], "application/spdx+json", "{r}");
        let artifact = blob(r["digest"].as_str().unwrap());
        subjects.push(artifact["subject"]["digest"].as_str().unwrap().to_owned());
    }
    subjects.sort();
    let mut expected: Vec<String> = platform_manifests.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(subjects, expected, "each platform's manifest has its SBOM");
    for m in &platform_manifests {
        let layers = blob(m)["layers"].as_array().unwrap().len();
        assert_eq!(layers, 2, "{m}: a layer per spec (base, hello)");
    }

    let img = d.join("img1");
    let image = format!("oci:{}:latest", img.display());
    let raw = skopeo(&["inspect", "--raw", &image]);
    assert_eq!(
        raw["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    let platforms: Vec<String> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{raw}");
    let arm = skopeo(&["inspect", "--override-arch", "arm64", &image]);
    assert_eq!(arm["Architecture"], "arm64", "{arm}");
    let amd = skopeo(&["inspect", "--override-arch", "amd64", &image]);
    assert_eq!(amd["Architecture"], "amd64", "{amd}");
}
