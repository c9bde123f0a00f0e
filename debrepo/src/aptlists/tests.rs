use super::*;

use std::os::unix::fs::PermissionsExt;

use crate::archive::FetchedIndex;
use crate::release::Release;

/// Names printed by apt 2.6 (`apt-get --print-uris update`) for these
/// sources: the URI apt fetches, then the file name it stores it under.
/// One-line sources dequote `%20`; the deb822 ones (the format
/// rdebootstrap writes) keep it, so `%` is quoted again.
const APT_NAMES: &[(&str, &str)] = &[
    (
        "http://127.0.0.1:8080/debian/dists/trixie/InRelease",
        "127.0.0.1:8080_debian_dists_trixie_InRelease",
    ),
    (
        "http://127.0.0.1:8080/debian/dists/trixie/contrib/binary-amd64/Packages",
        "127.0.0.1:8080_debian_dists_trixie_contrib_binary-amd64_Packages",
    ),
    (
        "http://user:secret@example.org/some_path/~me/deb/dists/bookworm-updates/InRelease",
        "example.org_some%5fpath_%7eme_deb_dists_bookworm-updates_InRelease",
    ),
    (
        "http://user:secret@example.org/some_path/~me/deb/dists/bookworm-updates/main/binary-amd64/Packages",
        "example.org_some%5fpath_%7eme_deb_dists_bookworm-updates_main_binary-amd64_Packages",
    ),
    (
        "https://[::1]:8443/a=b!c/dists/unstable/InRelease",
        "::1:8443_a%3db%21c_dists_unstable_InRelease",
    ),
    (
        "http://example.org/flat/./InRelease",
        "example.org_flat_._InRelease",
    ),
    ("http://example.org/flat/./Packages", "example.org_flat_._Packages"),
    (
        "http://example.org/flat2/sub/dir/InRelease",
        "example.org_flat2_sub_dir_InRelease",
    ),
    ("http://example.org/flat3/Packages", "example.org_flat3_Packages"),
    (
        "file:/srv/repo/dists/stable/InRelease",
        "_srv_repo_dists_stable_InRelease",
    ),
    (
        "file:///srv/repo2/dists/stable/main/binary-amd64/Packages",
        "_srv_repo2_dists_stable_main_binary-amd64_Packages",
    ),
    (
        "http://example.org:80/x%20y/dists/stable/InRelease",
        "example.org:80_x%2520y_dists_stable_InRelease",
    ),
    (
        "http://example.org:80/x y/dists/stable/InRelease",
        "example.org:80_x%20y_dists_stable_InRelease",
    ),
    (
        "http://h.example/A_B%41/dists/stable/InRelease",
        "h.example_A%5fB%2541_dists_stable_InRelease",
    ),
    (
        "http://Example.ORG/dists/stable/main/binary-all/Packages",
        "Example.ORG_dists_stable_main_binary-all_Packages",
    ),
    // The host's own lists (apt 2.6, bookworm), as this machine has them.
    (
        "http://deb.example.org/debian-security/dists/bookworm-security/InRelease",
        "deb.example.org_debian-security_dists_bookworm-security_InRelease",
    ),
];

#[test]
fn list_file_names_match_apts() {
    for (uri, name) in APT_NAMES {
        assert_eq!(list_file_name(uri), *name, "{uri}");
    }
}

#[test]
fn list_file_names_of_odd_uris() {
    // No path: apt's URI class gives "/".
    assert_eq!(list_file_name("http://h.example"), "h.example_");
    // Port 0 and a non-numeric port are dropped, leading zeros too.
    assert_eq!(list_file_name("http://h.example:0/x"), "h.example_x");
    assert_eq!(list_file_name("http://h.example:080/x"), "h.example:80_x");
    // Control and non-ASCII bytes.
    assert_eq!(
        list_file_name("http://h.example/\u{e9}\t"),
        "h.example_%c3%a9%09"
    );
    // No scheme separator at all.
    assert_eq!(list_file_name("nothing"), "_");
}

#[test]
fn credentials_are_left_out() {
    let w = without_credentials;
    assert_eq!(w("http://u:p@h.example/x@y"), "http://h.example/x@y");
    assert_eq!(w("https://a@b@h.example:1/"), "https://h.example:1/");
    assert_eq!(w("http://h.example/a@b"), "http://h.example/a@b");
    assert_eq!(w("file:/srv/r"), "file:/srv/r");
}

#[test]
fn suite_file_uris_follow_apt() {
    let u = |a, s, f| suite_file_uri(a, s, f);
    assert_eq!(
        u("http://h.example/debian", "trixie", "InRelease"),
        "http://h.example/debian/dists/trixie/InRelease"
    );
    assert_eq!(
        u(
            "http://h.example/debian/",
            "trixie",
            "main/binary-amd64/Packages"
        ),
        "http://h.example/debian/dists/trixie/main/binary-amd64/Packages"
    );
    assert_eq!(
        u("http://h.example/flat", "./", "Packages"),
        "http://h.example/flat/./Packages"
    );
    assert_eq!(
        u("http://h.example/flat/", "/", "InRelease"),
        "http://h.example/flat/InRelease"
    );
    assert_eq!(
        u("http://h.example/flat", "sub/dir/", "InRelease"),
        "http://h.example/flat/sub/dir/InRelease"
    );
    // apt escapes '+' and '~' in the suite (URIEncode), and the file name
    // escapes the '%' again.
    let uri = u("http://h.example/d", "a+b~c", "InRelease");
    assert_eq!(uri, "http://h.example/d/dists/a%2bb%7ec/InRelease");
    assert_eq!(
        list_file_name(&uri),
        "h.example_d_dists_a%252bb%257ec_InRelease"
    );
}

const RELEASE: &str = "Origin: Test\nSuite: SUITE\nCodename: SUITE\nArchitectures: amd64 i386\nComponents: main contrib\n";

fn inrelease(suite: &str) -> Vec<u8> {
    format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{}-----BEGIN PGP SIGNATURE-----\n\nnot a real one\n-----END PGP SIGNATURE-----\n",
        RELEASE.replace("SUITE", suite)
    )
    .into_bytes()
}

fn index(component: &str, arch: &str, data: &str) -> FetchedIndex {
    FetchedIndex {
        component: component.into(),
        arch: arch.into(),
        sha256: crate::hash::sha256(data.as_bytes()),
        data: data.as_bytes().to_vec(),
        from_cache: false,
        table: None,
    }
}

fn fetched(
    decl: usize,
    url: &str,
    suite: &str,
    raw: RawRelease,
    indices: Vec<FetchedIndex>,
    snapshot: Option<&str>,
) -> FetchedArchive {
    let text = RELEASE.replace("SUITE", suite);
    FetchedArchive {
        decl,
        suite: suite.into(),
        fetched: FetchedSuite {
            location: SuiteLocation::new(url, suite),
            release: Release::parse(&text).unwrap(),
            release_sha256: crate::hash::sha256(text.as_bytes()),
            signer: None,
            raw,
            indices,
        },
        snapshot: snapshot.map(str::to_owned),
    }
}

fn armored_debian_key() -> String {
    use pgp::composed::{Deserializable, SignedPublicKey};
    let keys: Vec<SignedPublicKey> =
        SignedPublicKey::from_bytes_many(Vendor::Debian.keyring_bytes())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    keys[0].to_armored_string(None.into()).unwrap()
}

/// A manifest of four archives: a vendor mirror with two suites, an
/// archive with a keyring file beside the manifest, one with an inline
/// armored key pinned to a snapshot, and an insecure flat repository.
fn setup(dir: &Path) -> (Manifest, Vec<String>, Vec<FetchedArchive>) {
    let key = armored_debian_key();
    std::fs::write(
        dir.join("archive-keyring.gpg"),
        Vendor::Debian.keyring_bytes(),
    )
    .unwrap();
    let text = format!(
        r#"
[[archive]]
mirror = "debian"
suites = ["trixie", "trixie-updates"]
components = ["main", "contrib"]

[[archive]]
url = "http://other.example:8080/debian-security"
suites = ["trixie-security"]
components = ["main"]
signed-by = "archive-keyring.gpg"

[[archive]]
url = "http://keyed.example/repo/"
snapshots = "http://keyed.example/snap/@SNAPSHOTID@/"
suites = ["stable"]
components = ["main"]
signed-by = """
{key}"""

[[archive]]
url = "http://flat.example/flat"
suites = ["./"]
allow-insecure = true

[spec]
"#
    );
    let manifest = Manifest::parse(&text, &dir.join("Manifest.toml")).unwrap();
    let mirror = "http://mirror.example/debian/";
    let snap = "http://keyed.example/snap/20250101T000000Z/";
    let urls = vec![
        mirror.to_owned(),
        mirror.to_owned(),
        // Credentials stay out of the tree.
        "http://user:pw@other.example:8080/debian-security".to_owned(),
        snap.to_owned(),
        "http://flat.example/flat".to_owned(),
    ];
    let fetched = vec![
        fetched(
            0,
            mirror,
            "trixie",
            RawRelease::InRelease(inrelease("trixie")),
            vec![
                index("main", "amd64", "Package: a\n"),
                index("main", "i386", "Package: a32\n"),
                index("contrib", "amd64", "Package: c\n"),
                index("contrib", "i386", ""),
            ],
            None,
        ),
        fetched(
            0,
            mirror,
            "trixie-updates",
            RawRelease::InRelease(inrelease("trixie-updates")),
            vec![
                index("main", "amd64", "Package: u\n"),
                index("main", "i386", ""),
                index("contrib", "amd64", ""),
                index("contrib", "i386", ""),
            ],
            None,
        ),
        fetched(
            1,
            &urls[2],
            "trixie-security",
            RawRelease::Release {
                release: b"Suite: trixie-security\n".to_vec(),
                signature: Some(b"SIG".to_vec()),
            },
            vec![index("main", "amd64", "Package: s\n")],
            None,
        ),
        fetched(
            2,
            snap,
            "stable",
            RawRelease::InRelease(inrelease("stable")),
            vec![index("main", "amd64", "Package: k\n")],
            Some("20250101T000000Z"),
        ),
        fetched(
            3,
            &urls[4],
            "./",
            RawRelease::Release {
                release: b"Origin: flat\n".to_vec(),
                signature: None,
            },
            vec![index("", "amd64", "Package: f\n")],
            None,
        ),
    ];
    (manifest, urls, fetched)
}

#[test]
fn stage_writes_sources_keyrings_and_lists() {
    let work = testkit::TempDir::new("aptlists-stage");
    let root = work.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    let (manifest, urls, fetched) = setup(work.path());
    let staged = stage(&root, &manifest, &urls, &fetched).unwrap();

    let sources = std::fs::read_to_string(root.join(SOURCES_PATH)).unwrap();
    assert_eq!(
        sources,
        "# The archives this tree was built from, written by rdebootstrap\n\
         # (meta = [\"apt-lists:stage\"]) with their lists in /var/lib/apt/lists.\n\
         \n\
         Types: deb\n\
         URIs: http://mirror.example/debian/\n\
         Suites: trixie trixie-updates\n\
         Components: main contrib\n\
         Architectures: amd64 i386\n\
         Signed-By: /etc/apt/keyrings/rdebootstrap-1.gpg\n\
         \n\
         Types: deb\n\
         URIs: http://other.example:8080/debian-security\n\
         Suites: trixie-security\n\
         Components: main\n\
         Architectures: amd64\n\
         Signed-By: /etc/apt/keyrings/rdebootstrap-1.gpg\n\
         \n\
         Types: deb\n\
         URIs: http://keyed.example/snap/20250101T000000Z/\n\
         Suites: stable\n\
         Components: main\n\
         Architectures: amd64\n\
         Signed-By: /etc/apt/keyrings/rdebootstrap-2.asc\n\
         Check-Valid-Until: no\n\
         \n\
         Types: deb\n\
         URIs: http://flat.example/flat\n\
         Suites: ./\n\
         Trusted: yes\n"
    );
    assert!(!sources.contains("pw@"), "{sources}");
    // Nothing here was signature-checked (no signer): all are reported.
    assert_eq!(staged.unverified.len(), 5);
    assert_eq!(
        staged.unverified[2],
        "http://other.example:8080/debian-security trixie-security"
    );
    // It parses as the deb822 sources apt reads.
    let parsed = crate::aptsources::parse_sources(&sources, "manifest.sources").unwrap();
    assert_eq!(parsed.len(), 4);
    assert_eq!(parsed[0].suites, ["trixie", "trixie-updates"]);

    // The vendor keyring and the same bytes from a file are one keyring;
    // the armored inline key is kept armored, as .asc.
    assert_eq!(
        staged.keyrings,
        [
            PathBuf::from("etc/apt/keyrings/rdebootstrap-1.gpg"),
            PathBuf::from("etc/apt/keyrings/rdebootstrap-2.asc"),
        ]
    );
    assert_eq!(
        std::fs::read(root.join("etc/apt/keyrings/rdebootstrap-1.gpg")).unwrap(),
        Vendor::Debian.keyring_bytes()
    );
    let asc = std::fs::read_to_string(root.join("etc/apt/keyrings/rdebootstrap-2.asc")).unwrap();
    assert!(
        asc.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        "{asc}"
    );
    assert_eq!(asc.trim(), armored_debian_key().trim());

    let lists: Vec<String> = staged
        .lists
        .iter()
        .map(|p| {
            assert_eq!(p.parent().unwrap(), Path::new(LISTS_DIR));
            p.file_name().unwrap().to_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        lists,
        [
            "flat.example_flat_._Packages",
            "flat.example_flat_._Release",
            "keyed.example_snap_20250101T000000Z_dists_stable_InRelease",
            "keyed.example_snap_20250101T000000Z_dists_stable_main_binary-amd64_Packages",
            "mirror.example_debian_dists_trixie-updates_InRelease",
            "mirror.example_debian_dists_trixie-updates_contrib_binary-amd64_Packages",
            "mirror.example_debian_dists_trixie-updates_contrib_binary-i386_Packages",
            "mirror.example_debian_dists_trixie-updates_main_binary-amd64_Packages",
            "mirror.example_debian_dists_trixie-updates_main_binary-i386_Packages",
            "mirror.example_debian_dists_trixie_InRelease",
            "mirror.example_debian_dists_trixie_contrib_binary-amd64_Packages",
            "mirror.example_debian_dists_trixie_contrib_binary-i386_Packages",
            "mirror.example_debian_dists_trixie_main_binary-amd64_Packages",
            "mirror.example_debian_dists_trixie_main_binary-i386_Packages",
            "other.example:8080_debian-security_dists_trixie-security_Release",
            "other.example:8080_debian-security_dists_trixie-security_Release.gpg",
            "other.example:8080_debian-security_dists_trixie-security_main_binary-amd64_Packages",
        ]
    );
    let read = |name: &str| std::fs::read(root.join(LISTS_DIR).join(name)).unwrap();
    assert_eq!(
        read("mirror.example_debian_dists_trixie_InRelease"),
        inrelease("trixie")
    );
    assert_eq!(
        read("mirror.example_debian_dists_trixie_main_binary-i386_Packages"),
        b"Package: a32\n"
    );
    assert_eq!(read("flat.example_flat_._Packages"), b"Package: f\n");
    assert_eq!(
        read("other.example:8080_debian-security_dists_trixie-security_Release.gpg"),
        b"SIG"
    );
    // The names suite_list_names gives are the ones written.
    for (f, url) in fetched.iter().zip(&urls) {
        for (_, name) in suite_list_names(url, &f.fetched) {
            assert!(lists.contains(&name), "{name}");
        }
    }

    // World-readable, and every byte accounted for.
    let mut total = 0;
    for p in staged
        .keyrings
        .iter()
        .chain(&staged.lists)
        .chain(std::iter::once(&staged.sources))
    {
        let meta = std::fs::metadata(root.join(p)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644, "{}", p.display());
        total += meta.len();
    }
    assert_eq!(total, staged.bytes);

    // The same input gives the same bytes.
    let again = work.path().join("again");
    std::fs::create_dir(&again).unwrap();
    assert_eq!(stage(&again, &manifest, &urls, &fetched).unwrap(), staged);
    assert_eq!(
        testkit::tree_snapshot(&root),
        testkit::tree_snapshot(&again)
    );
}

#[test]
fn stage_refuses_what_does_not_fit() {
    let work = testkit::TempDir::new("aptlists-errors");
    let root = work.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    let (manifest, urls, fetched) = setup(work.path());

    let e = stage(&root, &manifest, &urls[1..], &fetched).unwrap_err();
    assert!(
        matches!(
            e,
            AptListsError::UrlCount {
                urls: 4,
                fetched: 5
            }
        ),
        "{e}"
    );

    let mut wrong = urls.clone();
    wrong[2] = "http://elsewhere.example/".into();
    let e = stage(&root, &manifest, &wrong, &fetched).unwrap_err();
    assert!(e.to_string().contains("http://elsewhere.example/"), "{e}");
    assert!(
        matches!(e, AptListsError::UrlMismatch { index: 2, .. }),
        "{e}"
    );

    // Two suites whose files would land on one name with other bytes.
    let mut twice = fetched.clone();
    twice[1] = twice[0].clone();
    twice[1].fetched.indices[0] = index("main", "amd64", "Package: other\n");
    let e = stage(&root, &manifest, &urls, &twice).unwrap_err();
    assert!(
        e.to_string()
            .contains("mirror.example_debian_dists_trixie_main_binary-amd64_Packages"),
        "{e}"
    );

    let mut spaced = urls.clone();
    let mut moved = fetched.clone();
    spaced[4] = "http://flat.example/a b".into();
    moved[4].fetched.location = SuiteLocation::new(&spaced[4], "./");
    let e = stage(&root, &manifest, &spaced, &moved).unwrap_err();
    assert!(
        matches!(e, AptListsError::Unwritable { field: "URL", .. }),
        "{e}"
    );

    std::fs::remove_file(work.path().join("archive-keyring.gpg")).unwrap();
    let e = stage(&root, &manifest, &urls, &fetched).unwrap_err();
    assert!(matches!(e, AptListsError::KeyringFile { .. }), "{e}");
    std::fs::write(work.path().join("archive-keyring.gpg"), b"not a key").unwrap();
    let e = stage(&root, &manifest, &urls, &fetched).unwrap_err();
    assert!(matches!(e, AptListsError::Keyring { .. }), "{e}");
    assert!(e.to_string().contains("line"), "{e}");

    // Nothing was written by the refused calls.
    assert!(std::fs::read_dir(&root).unwrap().next().is_none());
}

#[test]
fn stage_stays_inside_the_tree() {
    let work = testkit::TempDir::new("aptlists-confined");
    let root = work.path().join("tree");
    let outside = work.path().join("outside");
    std::fs::create_dir_all(root.join("var/lib/apt")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    // A tree whose lists directory and keyrings point out of it.
    std::os::unix::fs::symlink(&outside, root.join("var/lib/apt/lists")).unwrap();
    std::fs::create_dir_all(root.join("etc/apt")).unwrap();
    std::os::unix::fs::symlink("../../../outside", root.join("etc/apt/keyrings")).unwrap();
    let (manifest, urls, fetched) = setup(work.path());
    // Dangling inside the tree: refused, nothing written outside.
    let e = stage(&root, &manifest, &urls, &fetched).unwrap_err();
    assert!(matches!(e, AptListsError::Write { .. }), "{e}");
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    // With their targets made inside the tree, the files land there.
    let inside = root.join(outside.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    stage(&root, &manifest, &urls, &fetched).unwrap();
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    assert!(inside
        .join("mirror.example_debian_dists_trixie_InRelease")
        .exists());
    assert!(root.join("outside/rdebootstrap-1.gpg").exists());
}
