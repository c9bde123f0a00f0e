//! The format layer on real data: the trixie Packages index and InRelease.

use std::process::Command;

use debrepo::deb822::{self, Comments};
use debrepo::packages::{MultiArch, Priority};
use debrepo::relation::{self, FieldKind};
use debrepo::release::{Release, TrustedDigest};
use debrepo::PackagesParser;
use sha2::{Digest, Sha256};

fn index() -> String {
    String::from_utf8(testkit::trixie_packages()).unwrap()
}

/// Number of lines starting with `Name:` (the raw truth to compare with).
fn raw_count(text: &str, name: &str) -> usize {
    let prefix = format!("{name}:");
    text.lines().filter(|l| l.starts_with(&prefix)).count()
}

#[test]
fn every_record_typed_and_counted() {
    let text = index();
    let pkgs: Vec<_> = PackagesParser::new(&text)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pkgs.len(), raw_count(&text, "Package"));
    assert!(pkgs.len() > 60_000);
    let count = |f: &dyn Fn(&debrepo::BinaryPackage) -> bool| pkgs.iter().filter(|p| f(p)).count();
    // Every typed field was taken from every record that has it.
    for kind in debrepo::packages::REL_KINDS {
        let n = count(&|p| !p.relations(kind).is_empty());
        assert_eq!(n, raw_count(&text, kind.name()), "{}", kind.name());
        assert!(n > 0 || kind == FieldKind::Enhances, "{}", kind.name());
    }
    assert_eq!(
        count(&|p| p.multi_arch != MultiArch::No),
        raw_count(&text, "Multi-Arch") - text.lines().filter(|l| *l == "Multi-Arch: no").count()
    );
    assert_eq!(
        count(&|p| p.priority.is_some()),
        raw_count(&text, "Priority")
    );
    assert_eq!(count(&|p| p.section.is_some()), raw_count(&text, "Section"));
    assert_eq!(
        count(&|p| p.source_version.is_some() || p.source != p.name),
        {
            // Records whose Source differs from the name or carries a version.
            pkgs.iter()
                .filter(|p| {
                    p.field("Source")
                        .is_some_and(|s| s.contains('(') || s != p.name)
                })
                .count()
        }
    );
    assert_eq!(count(&|p| p.filename.is_some()), pkgs.len());
    assert_eq!(count(&|p| p.size.is_some()), pkgs.len());
    assert_eq!(count(&|p| p.sha256.is_some()), raw_count(&text, "SHA256"));
    assert_eq!(
        count(&|p| p.description.is_some()),
        raw_count(&text, "Description")
    );
    assert_eq!(
        count(&|p| p.essential),
        text.lines().filter(|l| *l == "Essential: yes").count()
    );
    assert_eq!(
        count(&|p| p.protected),
        text.lines().filter(|l| *l == "Protected: yes").count()
    );
    for p in &pkgs {
        assert_eq!(p.sha256.unwrap().to_string(), p.field("SHA256").unwrap());
        assert_eq!(p.size.unwrap().to_string(), p.field("Size").unwrap());
        assert_eq!(p.version.as_str(), p.field("Version").unwrap());
    }
    let bash = pkgs.iter().find(|p| p.name == "bash").unwrap();
    assert!(bash.essential);
    assert_eq!(bash.priority, Some(Priority::Required));
    assert_eq!(bash.multi_arch, MultiArch::Foreign);
    let libc = pkgs.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(libc.multi_arch, MultiArch::Same);
    assert!(!libc.breaks().is_empty());
    assert_eq!(libc.source, "glibc");
}

#[test]
fn relations_print_and_reparse_identically() {
    let text = index();
    let mut n = 0;
    for p in PackagesParser::new(&text) {
        let p = p.unwrap();
        for kind in [
            FieldKind::Depends,
            FieldKind::PreDepends,
            FieldKind::Breaks,
            FieldKind::Provides,
            FieldKind::Conflicts,
        ] {
            let rels = p.relations(kind);
            if rels.is_empty() {
                continue;
            }
            let printed = rels.to_string();
            let again = relation::parse(kind, &printed).unwrap();
            assert_eq!(rels, again, "{}: {}", p.name, printed);
            n += 1;
        }
    }
    assert!(n > 50_000);
}

/// The names-only reading that apt's numbering uses gives the names and
/// qualifiers of the full parse, for every field of every record.
#[test]
fn relation_names_are_those_of_the_parsed_relations() {
    let text = index();
    let mut n = 0;
    for p in PackagesParser::new(&text) {
        let p = p.unwrap();
        for kind in debrepo::packages::REL_KINDS {
            let parsed: Vec<_> = p
                .relations(kind)
                .iter()
                .map(|r| (r.name, r.arch_qualifier))
                .collect();
            let names: Vec<_> = p.relation_names(kind).collect();
            assert_eq!(names, parsed, "{} {}", p.name, kind.name());
            n += names.len();
        }
    }
    assert!(n > 400_000, "{n}");
}

#[test]
fn index_round_trips_byte_for_byte() {
    let text = index();
    let stanzas = deb822::parse(&text, Comments::Forbidden).unwrap();
    let mut out = deb822::write_stanzas(&stanzas);
    out.push('\n');
    assert!(out == text, "the writer changed the index");
}

#[test]
fn streaming_reader_sees_every_stanza() {
    let path = testkit::data_dir().join("trixie/main/binary-amd64/Packages.xz");
    let file = std::fs::File::open(path).unwrap();
    let decoder = debrepo::compression::Compression::from_path("Packages.xz")
        .decoder(file)
        .unwrap();
    let mut reader = deb822::StanzaReader::new(std::io::BufReader::new(decoder));
    let mut n = 0;
    let mut last_line = 0;
    while let Some((line, text)) = reader.next_stanza().unwrap() {
        assert!(line > last_line);
        last_line = line;
        debrepo::packages::parse_control(text).unwrap();
        n += 1;
    }
    assert_eq!(n, raw_count(&index(), "Package"));
}

fn inrelease() -> String {
    std::fs::read_to_string(testkit::data_dir().join("trixie/InRelease")).unwrap()
}

#[test]
fn real_inrelease() {
    let doc = inrelease();
    let (r, signed) = Release::parse_inrelease(&doc).unwrap();
    assert_eq!(r.origin.as_deref(), Some("Debian"));
    assert_eq!(r.codename.as_deref(), Some("trixie"));
    assert_eq!(r.suite.as_deref(), Some("stable"));
    assert!(r.version.as_deref().unwrap().starts_with("13."));
    assert!(r.date.unwrap() > 1_750_000_000);
    assert_eq!(r.valid_until, None);
    assert!(r.acquire_by_hash);
    assert!(r.no_support_for_architecture_all);
    assert!(r.architectures.iter().any(|a| a == "amd64"));
    assert_eq!(
        r.components,
        ["main", "contrib", "non-free-firmware", "non-free"]
    );
    assert!(signed.headers.iter().any(|h| h.starts_with("Hash: ")));
    // The Packages.xz we carry is the one the Release lists.
    let xz =
        std::fs::read(testkit::data_dir().join("trixie/main/binary-amd64/Packages.xz")).unwrap();
    let entry = r.file("main/binary-amd64/Packages.xz").unwrap();
    assert_eq!(entry.size, xz.len() as u64);
    let digest: [u8; 32] = Sha256::digest(&xz).into();
    assert_eq!(entry.sha256.unwrap().0, digest);
    assert!(matches!(
        entry.trusted_digest(),
        Some(TrustedDigest::Sha256(_)) | Some(TrustedDigest::Sha512(_))
    ));
    let plain = r.file("main/binary-amd64/Packages").unwrap();
    assert_eq!(plain.size, testkit::trixie_packages().len() as u64);
}

/// Our split must hand out exactly the signed bytes: gpgv verifies our
/// signed text against our signature block with the Debian keyring.
#[test]
fn split_text_verifies_with_gpgv() {
    let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
    let gpgv = Command::new("gpgv").arg("--version").output();
    if !testkit::require(gpgv.is_ok(), "gpgv")
        || !testkit::require(std::path::Path::new(keyring).exists(), keyring)
    {
        return;
    }
    let doc = inrelease();
    let (_, signed) = Release::parse_inrelease(&doc).unwrap();
    let dir = testkit::TempDir::new("gpgv");
    let data = dir.path().join("Release");
    let sig = dir.path().join("Release.gpg");
    std::fs::write(&data, signed.signed_data()).unwrap();
    std::fs::write(&sig, signed.signature).unwrap();
    let gpgv = || {
        Command::new("gpgv")
            .args(["--keyring", keyring])
            .arg(&sig)
            .arg(&data)
            .output()
            .unwrap()
    };
    let out = gpgv();
    assert!(
        out.status.success(),
        "gpgv: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a changed byte fails.
    let mut bad = signed.signed_data();
    bad[10] ^= 1;
    std::fs::write(&data, bad).unwrap();
    assert!(!gpgv().status.success());
}

#[test]
fn record_table_gives_the_parsed_records_and_reads_back() {
    use debrepo::packages::RecordTable;
    let text = index();
    let parsed: Vec<_> = PackagesParser::new(&text)
        .collect::<Result<_, _>>()
        .unwrap();
    let table = RecordTable::build(text.as_bytes()).unwrap().unwrap();
    assert_eq!(table.len(), parsed.len());
    let back = RecordTable::from_bytes(table.as_bytes().to_vec(), text.as_bytes()).unwrap();
    let mut n = 0;
    for (a, b) in back.records(text.as_bytes()).zip(&parsed) {
        assert_eq!(&a, b);
        // What the solver reads from the text kept, too.
        assert_eq!(a.depends(), b.depends());
        assert_eq!(a.provides(), b.provides());
        n += 1;
    }
    assert_eq!(n, parsed.len());
}
