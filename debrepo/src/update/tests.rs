use super::*;
use crate::progress::NoProgress;

/// A manifest with one `[[local]]` .deb (and an archive that is not
/// fetched), and the directory that holds both.
fn local_manifest(hash: Option<&str>) -> (testkit::TempDir, Manifest) {
    let t = testkit::TempDir::new("update-steps");
    std::fs::create_dir_all(t.path().join("target")).unwrap();
    testkit::DebBuilder::new("mytool", "0.1", "amd64")
        .write_to(&t.path().join("target"), "mytool_0.1_amd64");
    let hash = hash.map_or(String::new(), |h| format!("hash = \"{h}\"\n"));
    let text = format!(
        "[[archive]]\nurl = \"http://archive.invalid/debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\n\n[[local]]\npath = \"target/mytool_0.1_amd64.deb\"\n{hash}\n[spec]\nvariant = \"custom\"\ninclude = [\"mytool\"]\n"
    );
    let path = t.path().join("Manifest.toml");
    std::fs::write(&path, &text).unwrap();
    let manifest = Manifest::parse(&text, &path).unwrap();
    (t, manifest)
}

#[test]
fn the_steps_around_the_fetch_are_plain_functions() {
    // No archive fetched: the local package alone is solved, and the lock
    // counts it right after the (no) archives.
    let (_t, manifest) = local_manifest(None);
    let locals = read_locals(&manifest).unwrap();
    assert_eq!(locals.len(), 1);
    assert!(locals[0].control.contains("Package: mytool"));
    let candidates = Candidates::new(&manifest, "amd64", &[], &locals).unwrap();
    assert_eq!(candidates.origin(0), PackageOrigin::Local(0));
    let specs = solve_specs(&manifest, &candidates, &locals, "amd64", &NoProgress).unwrap();
    let expected = locals[0].locked.clone();
    let lock = assemble_lock(&manifest, "amd64", &[], locals, specs, BTreeMap::new());
    assert!(lock.archives.is_empty());
    assert_eq!(lock.locals.len(), 1);
    assert_eq!(lock.locals[0], expected);
    let p = &lock.spec("").unwrap().packages[0];
    assert_eq!(
        (p.name.as_str(), p.origin, &p.path, p.size, &p.sha256),
        (
            "mytool",
            PackageOrigin::Local(0),
            &expected.path,
            expected.size,
            &expected.sha256
        )
    );
    assert!(lock
        .to_text()
        .contains("archive = 0, path = \"target/mytool_0.1_amd64.deb\""));
}

#[test]
fn a_local_package_that_changed_is_refused() {
    let (_t, manifest) =
        local_manifest(Some("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    let e = read_locals(&manifest).unwrap_err();
    assert!(matches!(&e, Error::Local { line: 6, .. }), "{e:?}");
    assert!(
        e.to_string().contains("the manifest says sha256-47DEQ"),
        "{e}"
    );
}
