use super::*;

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(text, Path::new("dir/Manifest.toml"))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const FULL: &str = r#"
# A manifest with every table.
[import]
path = "../system/Manifest.toml"
hash = "blake3-abc"
specs = ["base"]

[[archive]]
mirror = "debian"
suites = ["trixie", "trixie-updates"]
components = ["main"]

[[archive]]
url = "http://127.0.0.1:8080/debian-security/"
snapshots = "http://127.0.0.1:8080/snap/@SNAPSHOTID@/"
suites = ["trixie-security"]
components = ["main"]
signed-by = "keys/security.asc"
priority = 900
allow-insecure = false

[[archive]]
url = "file:///srv/flat"
suites = ["/"]

[[local]]
path = "target/debian/mytool_0.1.0_amd64.deb"
hash = "sha256-xyz"

[artifact."motd"]
type = "text"
target = "/etc/motd"
text = "hello\n"

[artifact."tools"]
type = "tar"
target = "/opt/tools/"
path = "tools.tar.zst"

[spec]
variant = "minbase"
include = ["ca-certificates"]

[spec.backend]
extends = "base"
include = ["openssh-server", "mytool (>= 0.1)"]
exclude = ["systemd-hwe (= 255.5-1)"]
stage = ["motd"]
recommends = true
build-env = { LANG = "C.UTF-8" }
build-script = "echo hi"
meta = ["apt-lists:stage"]

[spec.base]
include = ["tar"]
"#;

#[test]
fn every_table() {
    let m = parse(FULL).unwrap();
    assert_eq!(m.archives.len(), 3);
    let a = &m.archives[0];
    assert_eq!(
        (a.mirror.as_deref(), a.url.as_deref(), a.priority),
        (Some("debian"), None, 500)
    );
    assert_eq!(a.suites, ["trixie", "trixie-updates"]);
    let s = &m.archives[1];
    assert_eq!(
        s.signed_by,
        Some(SignedBy::File("keys/security.asc".into()))
    );
    assert_eq!(s.priority, 900);
    assert_eq!(s.line, 13);
    assert!(m.archives[2].components.is_empty());
    assert_eq!(
        m.locals[0].path,
        Path::new("target/debian/mytool_0.1.0_amd64.deb")
    );
    assert_eq!(m.artifacts["motd"].kind, ArtifactKind::Text);
    assert_eq!(
        m.artifacts["tools"].source.as_deref(),
        Some("tools.tar.zst")
    );
    assert!(m.artifacts["tools"].unpack);
    assert_eq!(m.import.as_ref().unwrap().specs, ["base"]);
    assert_eq!(m.spec_names(), ["", "backend", "base"]);
    let b = &m.specs["backend"];
    assert_eq!(b.extends, ["base"]);
    assert_eq!(b.build_env["LANG"], "C.UTF-8");
    assert_eq!(b.recommends, Some(true));
    assert_eq!(m.specs[""].variant, Some(Variant::Minbase));
    assert_eq!(m.lock_path("amd64"), Path::new("dir/Manifest.amd64.lock"));
}

#[test]
fn the_repositorys_own_manifests_parse() {
    for name in ["Manifest.toml", "debian-build.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
        let m = Manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            m.archives
                .iter()
                .all(|a| a.url.is_none() && a.mirror.as_deref() == Some("debian")),
            "{name} must not name a host"
        );
        m.resolve("").unwrap();
    }
}

#[test]
fn keys_that_would_do_nothing_are_errors() {
    assert_eq!(
        err("[spec]\nbuild-env = { \"A=B\" = \"1\" }\n"),
        "dir/Manifest.toml:2:13: build-env 'A=B': not a variable name (letters, digits and _, not starting with a digit)"
    );
    assert!(err("[spec]\nbuild-env = { 1X = \"1\" }\n").contains("not a variable name"));
    assert!(err("[spec]\nbuild-env = { X = \"a\\u0000b\" }\n").contains("NUL"));
    assert!(
        err("[artifact.a]\ntype = \"file\"\npath = \"f\"\ntarget = \"/f\"\ntext = \"x\"\n")
            .contains("'text' is for text artifacts")
    );
    assert!(
        err("[artifact.a]\ntype = \"dir\"\npath = \"d\"\ntarget = \"/d\"\nunpack = false\n")
            .contains("'unpack' is for file and tar artifacts")
    );
    assert!(
        err("[artifact.a]\ntype = \"text\"\ntext = \"x\"\ntarget = \"/t\"\nunpack = true\n")
            .contains("'unpack' is for file and tar artifacts")
    );
}

#[test]
fn errors_name_file_line_and_column() {
    assert_eq!(err("[[archive]]\nurl = \"http://x.invalid/\"\nsuites = [\"a\"]\ncomponents = [\"main\"]\nbogus = 1\n"),
        "dir/Manifest.toml:5:9: unknown key 'bogus' in [[archive]] (allowed: url, mirror, snapshots, suites, components, signed-by, priority, allow-insecure)");
    assert_eq!(err("[[archive]]\nsuites = [\"a\"]\n"),
        "dir/Manifest.toml:1:1: an [[archive]] needs either 'url' or 'mirror' (a vendor name such as \"debian\", resolved at update time), not both");
    assert_eq!(
        err("[[archive]]\nurl = \"http://x.invalid/\"\nsuites = [\"a\"]\n"),
        "dir/Manifest.toml:1:1: an [[archive]] needs 'components' (at least one, e.g. [\"main\"])"
    );
    assert!(
        err("[[archive]]\nurl = \"u\"\nsuites = [\"/\"]\ncomponents = [\"main\"]\n")
            .contains("a flat repository has no components")
    );
    assert!(err("[[archive]]\nurl = \"u\"\nsuites = [\"/\", \"x\"]\n").contains("cannot be mixed"));
    assert_eq!(err("[[archive]]\nurl = \"u\"\nsuites = [\"a\"]\ncomponents = [\"main\"]\npriority = \"high\"\n"),
        "dir/Manifest.toml:5:12: 'priority' must be an integer");
    assert!(err("[[archive]]\nurl = \"u\"\nsnapshots = \"http://s/\"\nsuites = [\"a\"]\ncomponents = [\"m\"]\n").contains("must contain @SNAPSHOTID@"));
    assert_eq!(err("[spec]\nvariant = \"tiny\"\n"),
        "dir/Manifest.toml:2:11: unknown variant 'tiny' (use custom, essential, required, minbase, buildd, important or standard)");
    assert_eq!(
        err("[spec.a]\ninclude = \"curl\"\n"),
        "dir/Manifest.toml:2:11: 'include' in [spec.a] must be an array of strings"
    );
    assert!(err("[spec]\nincludes = [\"x\"]\n").contains("unknown key 'includes' in [spec]"));
    assert!(err("[artifact.\"x\"]\ntype = \"file\"\ntarget = \"/x\"\n")
        .contains("needs 'url' or 'path'"));
    assert!(err("[artifact.\"x\"]\ntype = \"blob\"\ntarget = \"/x\"\n")
        .contains("unknown artifact type 'blob'"));
    assert!(err("[import]\npath = \"a\"\n").contains("needs the 'hash'"));
    assert!(err(
        "[import]\nhash = \"h\"\n[import.git]\nremote = \"r\"\nrev = \"abc\"\npath = \"p\"\n"
    )
    .contains("40-hex-digit"));
    let git = |remote: &str, rev: &str, extra: &str, path: &str| {
        format!("[import]\nhash = \"h\"\n[import.git]\nremote = \"{remote}\"\nrev = \"{rev}\"\n{extra}path = \"{path}\"\n")
    };
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert!(err(&git(
        "https://127.0.0.1/r",
        &sha.to_uppercase(),
        "",
        "M.toml"
    ))
    .contains("40 lowercase hex digits"));
    assert!(err(&git("git+https://127.0.0.1/r", sha, "", "M.toml"))
        .contains("dir/Manifest.toml:4:10: [import.git] 'remote': git URLs are written"));
    assert!(err(&git("ftp://127.0.0.1/r", sha, "", "M.toml")).contains("'remote'"));
    assert!(err(&git("https://u:p@127.0.0.1/r", sha, "", "M.toml")).contains("password"));
    assert!(err(&git("https://127.0.0.1/r", sha, "", "../M.toml"))
        .contains("[import.git] 'path': '../M.toml' is not a path in a repository"));
    assert!(
        err(&git("https://127.0.0.1/r", sha, "ref = \"\"\n", "M.toml")).contains("'ref' is empty")
    );
    assert!(err(&git(
        "https://127.0.0.1/r",
        sha,
        "branch = \"x\"\n",
        "M.toml"
    ))
    .contains("unknown key 'branch'"));
    let m = parse(&git(
        "https://127.0.0.1/r.git",
        sha,
        "ref = \"main\"\n",
        "sys/M.toml",
    ))
    .unwrap();
    let g = m.import.unwrap().git.unwrap();
    assert_eq!(
        (
            g.remote.as_str(),
            g.rev.as_str(),
            g.reference.as_deref(),
            g.path.as_str(),
            g.line
        ),
        (
            "https://127.0.0.1/r.git",
            sha,
            Some("main"),
            "sys/M.toml",
            3
        )
    );
    assert!(err("[[local]]\nhash = \"x\"\n").contains("needs a 'path'"));
    assert!(err("[spec\n").starts_with("dir/Manifest.toml:1:"));
    assert!(err("oops = 1\n").contains("unknown key 'oops' in the manifest"));
    assert_eq!(
        err("[artifact.a]\ntype = \"text\"\ntarget = \"/a\"\ntext = \"\"\n[spec.x]\nstage = [\"a\", \"nosuch\"]\n"),
        "dir/Manifest.toml:6:15: [spec.x] stages 'nosuch', which is not defined: add an [artifact.\"nosuch\"] table (defined: a)"
    );
    assert!(err("[spec]\nstage = [\"nosuch\"]\n").contains("the manifest defines none"));
}

#[test]
fn inheritance_is_additive_in_declaration_order() {
    let m = parse(
        r#"
[artifact."sa"]
type = "text"
target = "/sa"
text = "sa"
[spec.a]
include = ["a1"]
build-script = "A"
stage = ["sa"]
[spec.b]
extends = "a"
include = ["b1", "a1"]
build-script = "B"
build-env = { K = "1" }
[spec.c]
extends = "a"
include = ["c1"]
build-script = "C"
build-env = { K = "1" }
meta = ["m"]
[spec.d]
extends = ["b", "c"]
include = ["d1"]
variant = "minbase"
"#,
    )
    .unwrap();
    let d = m.resolve("d").unwrap();
    assert_eq!(d.chain, ["a", "b", "c", "d"]);
    assert_eq!(d.include, ["a1", "b1", "c1", "d1"]);
    let scripts: Vec<_> = d.build_scripts.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        scripts,
        ["A", "B", "C"],
        "each ancestor's script once, bases first"
    );
    assert_eq!(
        d.build_env["K"], "1",
        "equal values from two ancestors are fine"
    );
    assert_eq!(
        (d.stage.clone(), d.meta.clone(), d.variant),
        (
            vec!["sa".to_string()],
            vec!["m".to_string()],
            Variant::Minbase
        )
    );
}

#[test]
fn inheritance_errors() {
    let e = |text: &str, spec: &str| parse(text).unwrap().resolve(spec).unwrap_err().to_string();
    assert_eq!(
        e(
            "[spec.a]\nextends = \"b\"\n[spec.b]\nextends = \"a\"\n",
            "a"
        ),
        "specs extend each other in a cycle: 'a' -> 'b' -> 'a'"
    );
    assert_eq!(
        e("[spec.a]\nextends = \"zz\"\n", "a"),
        "spec 'a' extends 'zz', which is not defined"
    );
    assert_eq!(
        e("[spec.a]\n", "nope"),
        "no spec 'nope' in the manifest (defined: 'a')"
    );
    assert_eq!(
        e("[spec.a]\n[spec.b]\nextends = [\"a\", \"a\"]\n", "b"),
        "spec 'b' lists 'a' twice in 'extends'"
    );
    assert_eq!(
        e("[spec.base]\ninclude = [\"vim\", \"curl (>= 8)\"]\n[spec.x]\nextends = \"base\"\nexclude = [\"vim\", \"curl\", \"nano\"]\n", "x"),
        "requested to remove packages from ancestor specs: vim, curl"
    );
    assert_eq!(
        e("[spec.base]\nvariant = \"minbase\"\n[spec.x]\nextends = \"base\"\nvariant = \"essential\"\n", "x"),
        "spec 'x' sets variant essential which does not cover variant minbase of its ancestor 'base'"
    );
    assert_eq!(
        e("[spec.a]\nbuild-env = { K = \"1\" }\n[spec.b]\nbuild-env = { K = \"2\" }\n[spec.c]\nextends = [\"a\", \"b\"]\n", "c"),
        "ancestors 'a' and 'b' of spec 'c' set build-env 'K' to different values; set it in 'c' itself"
    );
    // ... which the spec itself settles.
    let m = parse("[spec.a]\nbuild-env = { K = \"1\" }\n[spec.b]\nbuild-env = { K = \"2\" }\n[spec.c]\nextends = [\"a\", \"b\"]\nbuild-env = { K = \"3\" }\n").unwrap();
    assert_eq!(m.resolve("c").unwrap().build_env["K"], "3");
    // A middle spec's value overrides its parent's for its children too:
    // the child overrides its ancestors, at every level.
    let m = parse("[spec.a]\nbuild-env = { K = \"1\", J = \"a\" }\n[spec.b]\nextends = [\"a\"]\nbuild-env = { K = \"2\" }\n[spec.c]\nextends = [\"b\"]\n[spec.d]\nextends = [\"b\", \"a\"]\n").unwrap();
    let c = m.resolve("c").unwrap().build_env;
    assert_eq!((c["K"].as_str(), c["J"].as_str()), ("2", "a"));
    // ... but a parent that did not override it disagrees with one that did.
    assert!(m.resolve("d").is_err());
    // A versioned exclude only constrains, it does not remove.
    let m = parse("[spec.base]\ninclude = [\"curl\"]\n[spec.x]\nextends = \"base\"\nexclude = [\"curl (<< 7)\"]\n").unwrap();
    assert_eq!(m.resolve("x").unwrap().exclude, ["curl (<< 7)"]);
}

#[test]
fn variants_only_grow() {
    use Variant::*;
    assert!(Minbase.covers(Required) && Minbase.covers(Essential) && Standard.covers(Minbase));
    assert!(Buildd.covers(Essential) && !Buildd.covers(Required) && !Minbase.covers(Buildd));
    assert!(!Essential.covers(Minbase) && Custom.covers(Custom) && Essential.covers(Custom));
    for v in [
        Custom, Essential, Required, Minbase, Buildd, Important, Standard,
    ] {
        assert_eq!(Variant::from_name(v.name()), Some(v));
    }
}

#[test]
fn a_spec_without_a_variant_gets_the_manifests_default() {
    use Variant::*;
    let m = parse("[spec]\nvariant = \"minbase\"\n[spec.tools]\ninclude = [\"git\"]\n[spec.web]\nextends = \"tools\"\n[spec.bare]\nvariant = \"custom\"\n[spec.big]\nextends = \"tools\"\nvariant = \"standard\"\n").unwrap();
    // Named, extending nothing, no variant: [spec]'s.
    assert_eq!(m.resolve("tools").unwrap().variant, Minbase);
    // Through a chain that sets none: the same.
    assert_eq!(m.resolve("web").unwrap().variant, Minbase);
    // custom only when asked for; a chain's own variant wins.
    assert_eq!(m.resolve("bare").unwrap().variant, Custom);
    assert_eq!(m.resolve("big").unwrap().variant, Standard);
    // [spec] setting none: custom, as before.
    let m = parse("[spec.tools]\ninclude = [\"git\"]\n").unwrap();
    assert_eq!(m.resolve("tools").unwrap().variant, Custom);
}

#[test]
fn path_filters_in_dpkg_order_through_extends() {
    use crate::pathfilter::Action::{Exclude as E, Include as I};
    let m = parse(
        r#"
[spec.base]
path-include = ["/usr/share/doc/*/copyright"]
path-exclude = ["/usr/share/doc/*"]
path-filters = ["man"]
[spec.web]
extends = "base"
path-exclude = ["/usr/share/doc/*/copyright"]
[spec.other]
include = ["x"]
"#,
    )
    .unwrap();
    let rules = |name: &str| -> Vec<(crate::pathfilter::Action, String)> {
        m.resolve(name)
            .unwrap()
            .path_filters
            .rules()
            .iter()
            .map(|r| (r.action, r.pattern.clone()))
            .collect()
    };
    // Presets, then excludes, then includes; the parent's before the
    // child's, so the child's exclude decides last.
    let s = |a, p: &str| (a, p.to_owned());
    assert_eq!(
        rules("base"),
        [
            s(E, "/usr/share/man/*"),
            s(E, "/usr/share/doc/*"),
            s(I, "/usr/share/doc/*/copyright"),
        ]
    );
    assert_eq!(
        rules("web"),
        [
            s(E, "/usr/share/man/*"),
            s(E, "/usr/share/doc/*"),
            s(I, "/usr/share/doc/*/copyright"),
            s(E, "/usr/share/doc/*/copyright"),
        ]
    );
    let web = m.resolve("web").unwrap().path_filters;
    assert!(web.skips("/usr/share/doc/dpkg/copyright", false));
    assert!(
        !web.skips("/usr/share/doc/dpkg", true),
        "the parent's include still keeps directories"
    );
    assert!(rules("other").is_empty());
}

#[test]
fn path_filter_errors_name_the_line() {
    assert_eq!(
        err("[spec]\nvariant = \"minbase\"\npath-filters = [\"docs\", \"manpages\"]\n"),
        "dir/Manifest.toml:3:25: unknown path filter preset 'manpages' in [spec] (known: docs, locales, man; or write the globs in 'path-exclude' and 'path-include')"
    );
    assert_eq!(
        err("[spec.a]\npath-exclude = [\"/usr/share/doc/*\", \"usr/share/man/*\"]\n"),
        "dir/Manifest.toml:2:37: 'path-exclude' in [spec.a]: path filter \"usr/share/man/*\": it must start with '/' or a wildcard ('*', '?', '['): dpkg matches absolute paths"
    );
    assert!(
        err("[spec.a]\npath-include = [\"/usr/[ab\"]\n").starts_with("dir/Manifest.toml:2:17: ")
    );
    assert!(err("[spec.a]\npath-include = \"/usr/*\"\n").contains("must be an array of strings"));
    assert!(err("[spec.a]\npath-filter = [\"docs\"]\n").contains("unknown key 'path-filter'"));
}

#[test]
fn path_filters_change_the_spec_hash() {
    let text = "[spec.base]\ninclude = [\"a\"]\n[spec.web]\nextends = \"base\"\n[spec.other]\ninclude = [\"b\"]\n";
    let hashes = |t: &str| -> Vec<String> {
        let m = parse(t).unwrap();
        ["base", "web", "other"]
            .iter()
            .map(|n| crate::lock::spec_hash(&m, &m.resolve(n).unwrap()))
            .collect()
    };
    let before = hashes(text);
    // Empty lists are no filters: the hash is the one of a spec without
    // the keys, as locks written before path filters have it.
    assert_eq!(
        hashes(&text.replace(
            "include = [\"a\"]",
            "include = [\"a\"]\npath-filters = []\npath-exclude = []"
        )),
        before
    );
    let with_docs = hashes(&text.replace(
        "include = [\"a\"]",
        "include = [\"a\"]\npath-filters = [\"docs\"]",
    ));
    assert_ne!(with_docs[0], before[0]);
    assert_ne!(with_docs[1], before[1], "a child sees its parent's filters");
    assert_eq!(with_docs[2], before[2]);
    // The same rules written out are the same filters.
    let written = hashes(&text.replace(
        "include = [\"a\"]",
        "include = [\"a\"]\npath-exclude = [\"/usr/share/doc/*\"]\npath-include = [\"/usr/share/doc/*/copyright\"]",
    ));
    let preset_first = hashes(&text.replace(
        "include = [\"a\"]",
        "include = [\"a\"]\npath-filters = [\"man\"]\npath-exclude = [\"/usr/share/doc/*\"]",
    ));
    let excludes_only = hashes(&text.replace(
        "include = [\"a\"]",
        "include = [\"a\"]\npath-exclude = [\"/usr/share/doc/*\", \"/usr/share/man/*\"]",
    ));
    assert_ne!(
        written[0], with_docs[0],
        "docs also excludes /usr/share/info"
    );
    assert_ne!(
        preset_first[0], excludes_only[0],
        "the order is part of the hash"
    );
}

/// A base manifest in `dir/base` and a downstream one in `dir/app`
/// importing it (with the right hash unless `hash` is given).
fn imported_pair(dir: &Path, app: &str, hash: Option<&str>) -> Result<Manifest, ManifestError> {
    const BASE: &str = r#"[artifact."motd"]
type = "text"
target = "/etc/motd"
text = "base\n"

[artifact."conf"]
type = "file"
target = "/etc/base.conf"
path = "files/base.conf"

[[local]]
path = "debs/tool.deb"

[[archive]]
url = "http://127.0.0.1:9/base/"
suites = ["trixie"]
components = ["main"]
signed-by = "keys/base.asc"

[spec.core]
include = ["libc6"]
stage = ["conf"]
build-env = { CORE = "1" }
build-script = "echo core"

[spec.base]
extends = ["core"]
variant = "minbase"
include = ["tool"]
stage = ["motd"]

[spec.other]
include = ["vim"]
"#;
    std::fs::create_dir_all(dir.join("base")).unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("base/Manifest.toml"), BASE).unwrap();
    let pin = hash
        .map(str::to_owned)
        .unwrap_or_else(|| import::manifest_hash(BASE.as_bytes()));
    let text = format!(
        "[import]\npath = \"../base/Manifest.toml\"\nhash = \"{pin}\"\nspecs = [\"base\"]\n\n{app}"
    );
    std::fs::write(dir.join("app/Manifest.toml"), text).unwrap();
    Manifest::load(&dir.join("app/Manifest.toml"))
}

const APP: &str = r#"[artifact."motd"]
type = "text"
target = "/etc/motd.app"
text = "app\n"

[spec.web]
extends = ["base"]
include = ["nginx"]
stage = ["motd"]
build-env = { APP = "1" }
"#;

#[test]
fn an_imported_spec_is_extended_with_its_own_artifacts_and_ancestors() {
    let t = testkit::TempDir::new("manifest-import");
    let m = imported_pair(t.path(), APP, None).unwrap();
    let imported = m.imported.as_deref().unwrap();
    // Paths stay anchored at the imported manifest's folder.
    assert_eq!(imported.dir(), t.path().join("app/../base"));
    assert_eq!(m.imported_dir(), Some(imported.dir()));
    let r = m.resolve("web").unwrap();
    assert_eq!(r.imported_chain, ["core", "base"]);
    assert_eq!(r.chain, ["web"]);
    assert_eq!(r.include, ["libc6", "tool", "nginx"]);
    assert_eq!(r.variant, Variant::Minbase);
    // Same-named artifacts of the two manifests are distinct.
    assert_eq!(r.imported_stage, ["conf", "motd"]);
    assert_eq!(r.stage, ["motd"]);
    assert_eq!(r.build_env["CORE"], "1");
    assert_eq!(r.build_env["APP"], "1");
    assert_eq!(
        r.build_scripts,
        [("core".to_owned(), "echo core".to_owned())]
    );
    let plan = crate::artifact::plan(&m, "web").unwrap();
    let got: Vec<(&str, bool, &str)> = plan
        .iter()
        .map(|p| (p.name.as_str(), p.imported, p.artifact.target.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("conf", true, "/etc/base.conf"),
            ("motd", true, "/etc/motd"),
            ("motd", false, "/etc/motd.app")
        ]
    );
    assert_eq!(
        crate::artifact::source_of(plan[0].owner(&m), "conf", &plan[0].artifact).unwrap(),
        crate::artifact::Source::Local(t.path().join("app/../base/files/base.conf"))
    );
    // Exported specs are for extending; the downstream lists its own.
    assert_eq!(m.spec_names(), ["web"]);
    // A child may not remove what an imported ancestor includes.
    let e = imported_pair(
        t.path(),
        "[spec.web]\nextends = [\"base\"]\nexclude = [\"tool\"]\n",
        None,
    )
    .unwrap()
    .resolve("web")
    .unwrap_err();
    assert!(matches!(e, SpecError::RemovesFromAncestor(_)), "{e}");
}

#[test]
fn imports_are_refused_where_they_cannot_be_used() {
    let t = testkit::TempDir::new("manifest-import-refused");
    let err =
        |app: &str, hash: Option<&str>| imported_pair(t.path(), app, hash).unwrap_err().to_string();
    // A changed imported manifest: both files, both hashes, the fix.
    let e = err(APP, Some("blake3-AAAA"));
    let app = t.path().join("app/Manifest.toml");
    assert!(
        e.starts_with(&format!(
            "{}:1:1: [import]: the imported manifest ",
            app.display()
        )),
        "{e}"
    );
    assert!(e.contains("base/Manifest.toml has hash blake3-"), "{e}");
    assert!(e.contains("but this manifest pins blake3-AAAA"), "{e}");
    assert!(
        e.contains("'rdebootstrap import ../base/Manifest.toml --spec base'"),
        "{e}"
    );
    // A non-exported imported spec: the exported ones are listed.
    let e = err("[spec.web]\nextends = [\"other\"]\n", None);
    assert!(e.contains(":6:1: spec 'web' extends 'other', which the imported manifest defines but [import] does not export (exported: 'base')"), "{e}");
    // A downstream spec named like an exported one.
    let e = err("[spec.base]\ninclude = [\"x\"]\n", None);
    assert!(
        e.contains(":6:1: [spec.base] has the name of the imported spec 'base'"),
        "{e}"
    );
    // An exported name the imported manifest does not define.
    std::fs::write(
        t.path().join("app/Manifest.toml"),
        format!(
            "[import]\npath = \"../base/Manifest.toml\"\nhash = \"{}\"\nspecs = [\"nosuch\"]\n",
            import::manifest_hash(&std::fs::read(t.path().join("base/Manifest.toml")).unwrap())
        ),
    )
    .unwrap();
    let e = Manifest::load(&app).unwrap_err().to_string();
    assert!(
        e.contains("'specs' names 'nosuch'") && e.contains("(it defines: 'base', 'core', 'other')"),
        "{e}"
    );
    // A missing imported manifest.
    std::fs::write(
        &app,
        "[import]\npath = \"../none/Manifest.toml\"\nhash = \"blake3-x\"\n",
    )
    .unwrap();
    let e = Manifest::load(&app).unwrap_err().to_string();
    assert!(
        e.contains(":1:1: [import]: cannot read the imported manifest"),
        "{e}"
    );
    // A git import loaded without git access: refused at its line.
    std::fs::write(
        &app,
        format!("[import]\nhash = \"blake3-x\"\n\n[import.git]\nremote = \"file:///srv/r.git\"\nrev = \"{}\"\npath = \"p\"\n", "a".repeat(40)),
    )
    .unwrap();
    let e = Manifest::load(&app).unwrap_err().to_string();
    assert!(
        e.contains(
            ":4:1: [import.git]: file:///srv/r.git: reading a git import needs git and the cache"
        ),
        "{e}"
    );
    // Only parsing leaves the import unloaded (edits re-pin with it).
    assert!(Manifest::load_own(&app).unwrap().imported.is_none());
    // Nested imports.
    std::fs::write(
        t.path().join("base/Manifest.toml"),
        "[import]\npath = \"x.toml\"\nhash = \"blake3-x\"\n",
    )
    .unwrap();
    std::fs::write(
        &app,
        format!(
            "[import]\npath = \"../base/Manifest.toml\"\nhash = \"{}\"\n",
            import::manifest_hash(&std::fs::read(t.path().join("base/Manifest.toml")).unwrap())
        ),
    )
    .unwrap();
    let e = Manifest::load(&app).unwrap_err().to_string();
    assert!(
        e.contains("itself has an [import] (line 1); nested imports are not supported"),
        "{e}"
    );
}

#[test]
fn requirements_the_solver_cannot_read_are_errors_at_their_line() {
    let e = err("[spec]\ninclude = [\"less\", \"less (>= \"]\n");
    assert!(
        e.starts_with("dir/Manifest.toml:2:20: 'include' in [spec]: \"less (>= \" is not a package requirement: "),
        "{e}"
    );
    assert_eq!(
        err("[spec.a]\nexclude = [\"\"]\n"),
        "dir/Manifest.toml:2:12: 'exclude' in [spec.a]: \"\" is not a package requirement: it names no package"
    );
    // Alternatives, versions, qualifiers and several in one entry are
    // what the solver reads.
    parse("[spec]\ninclude = [\"a | b (>= 1)\", \"c:any, d\"]\nexclude = [\"e (<< 2)\"]\n")
        .unwrap();
}
