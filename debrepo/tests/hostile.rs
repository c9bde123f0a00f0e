//! A corpus of hostile and broken packages, made here with testkit's
//! DebBuilder and unpacked with debrepo's reader and unpacker into a
//! temporary target. Each case is refused with dpkg's reason, or contained;
//! in every case the victims planted outside the target (a sibling of the
//! target, and a directory reached through `..`) are untouched, nothing new
//! appears outside the target, and no temporary file is left inside it.
//!
//! Run as root (as CI does), every case runs again as an unprivileged user
//! made for the test (`rootless_as_an_unprivileged_user`).

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use debrepo::deb::DebReader;
use debrepo::unpack::{Ownership, PackageInfo, Unpacked, Unpacker};
use testkit::{Comp, DebBuilder, TempDir};

/// A target with victims around it:
/// `base/up-victim/file` (reached from the target as `../../up-victim`),
/// `base/a/sibling/file` (`../sibling` from the target), `base/a/target`.
struct Arena {
    base: TempDir,
    before: BTreeMap<String, String>,
}

impl Arena {
    fn new(tag: &str) -> Arena {
        let base = TempDir::new(&format!("hostile-{tag}"));
        for d in ["up-victim", "a/sibling", "a/target"] {
            std::fs::create_dir_all(base.path().join(d)).unwrap();
        }
        for f in ["up-victim/file", "a/sibling/file"] {
            std::fs::write(base.path().join(f), "victim\n").unwrap();
        }
        // Anyone may write the arena: the rootless run is another user.
        for d in ["", "a", "a/target", "a/sibling", "up-victim"] {
            let p = base.path().join(d);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let before = outside(base.path());
        Arena { base, before }
    }

    fn target(&self) -> PathBuf {
        self.base.path().join("a/target")
    }

    fn sibling(&self) -> PathBuf {
        self.base.path().join("a/sibling")
    }

    fn up_victim(&self) -> PathBuf {
        self.base.path().join("up-victim")
    }

    /// Victims untouched, nothing new outside the target, no temporaries
    /// left in it.
    fn check(&self) {
        assert_eq!(
            outside(self.base.path()),
            self.before,
            "something outside the target changed"
        );
        for f in [self.sibling().join("file"), self.up_victim().join("file")] {
            assert_eq!(std::fs::read_to_string(&f).unwrap(), "victim\n");
        }
        let left: Vec<_> = walk(&self.target())
            .into_iter()
            .filter(|p| p.contains("rdebootstrap-tmp") || p.contains("rdebootstrap-conf"))
            .collect();
        assert!(left.is_empty(), "temporaries left in the tree: {left:?}");
    }
}

/// Everything in the arena but the target's contents.
fn outside(base: &Path) -> BTreeMap<String, String> {
    testkit::tree_snapshot(base)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("a/target/"))
        .collect()
}

/// Paths under `root`, relative.
fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// An error with its causes, as the CLI prints them, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// Read and unpack `debs` in order into the arena's target, as `build`
/// does; the error chain if any step refuses.
fn unpack(arena: &Arena, debs: &[DebBuilder]) -> Result<Unpacked, String> {
    let bytes: Vec<Vec<u8>> = debs.iter().map(DebBuilder::build).collect();
    let mut readers = Vec::new();
    for b in &bytes {
        readers.push(DebReader::new(std::io::Cursor::new(b.as_slice())).map_err(|e| chain(&e))?);
    }
    let infos = readers
        .iter()
        .map(|r| PackageInfo::from_control(r.control()).map_err(|e| chain(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    let u = Unpacker::new(&arena.target(), Ownership::for_this_process(), infos)
        .map_err(|e| chain(&e))?
        .with_direct_writes(true);
    for (i, r) in readers.iter_mut().enumerate() {
        let mut data = r.data().map_err(|e| chain(&e))?;
        u.unpack(i, &mut data).map_err(|e| chain(&e))?;
    }
    Ok(u.finish())
}

/// Unpacking `debs` is refused with `why` in its error; the arena is intact.
fn refused(tag: &str, debs: &[DebBuilder], why: &str) -> Arena {
    let arena = Arena::new(tag);
    let e = unpack(&arena, debs).expect_err(why);
    eprintln!("{tag}: {e}");
    assert!(e.contains(why), "{tag}: expected {why:?} in: {e}");
    arena.check();
    arena
}

fn pkg(name: &str) -> DebBuilder {
    DebBuilder::new(name, "1", "amd64")
}

#[test]
fn newline_in_a_member_name() {
    let deb = pkg("newline")
        .dir("./usr/")
        .dir("./usr/share/")
        .file("./usr/share/X\n/etc/passwd", "x");
    let arena = refused(
        "newline",
        &[deb],
        "entry './usr/share/X\\n/etc/passwd' refused: newline not allowed in archive object name",
    );
    assert!(!arena.target().join("usr/share/X\n").exists());
}

#[test]
fn bad_trigger_names() {
    for (name, why) in [
        (
            "../../../../X",
            "invalid or unknown syntax in trigger name '../../../../X'",
        ),
        (
            "foo_bar",
            "invalid or unknown syntax in trigger name 'foo_bar'",
        ),
        ("/a//b", "invalid or unknown syntax in trigger name '/a//b'"),
        (
            "/usr/lib/",
            "invalid or unknown syntax in trigger name '/usr/lib/'",
        ),
        ("/", "invalid or unknown syntax in trigger name '/'"),
    ] {
        for directive in ["interest", "activate-noawait"] {
            let deb = pkg("trig")
                .control_file("triggers", 0o644, format!("{directive} {name}\n"))
                .file("./f", "x");
            let arena = refused("trigger", &[deb], why);
            assert!(walk(&arena.target()).is_empty(), "nothing unpacked");
        }
    }
    // What dpkg accepts, we accept: file triggers, names with + - .
    let arena = Arena::new("trigger-ok");
    let deb = pkg("trig").control_file(
        "triggers",
        0o644,
        "# comment\ninterest /usr/lib/x86_64-linux-gnu/gdk-pixbuf-2.0\ninterest-noawait ldconfig\nactivate-noawait libc++.so-1\n",
    );
    unpack(&arena, &[deb]).unwrap();
    arena.check();
}

/// `./f` (100 bytes) last: its data, then 412 bytes of padding, then the
/// two end-of-archive blocks.
fn with_last_file() -> DebBuilder {
    pkg("cut")
        .dir("./usr/")
        .file("./usr/first", "complete")
        .file("./f", vec![b'x'; 100])
}

#[test]
fn truncated_archives() {
    let len = with_last_file().data_tar().len();
    for (tag, cut, why) in [
        (
            "padding",
            len - 1024 - 200,
            "cannot skip padding for file 'f': unexpected end of file",
        ),
        (
            "data",
            len - 1024 - 412 - 50,
            "'f': the archive ends inside its data (50 bytes missing)",
        ),
        (
            "header",
            len - 1024 - 412 - 100 - 100,
            "partially read tar header",
        ),
        (
            "end",
            len - 1024,
            "the tar archive ends without its end-of-archive block",
        ),
    ] {
        for comp in [Comp::None, Comp::Zstd] {
            let deb = with_last_file()
                .truncate_data_tar(cut)
                .data_compression(comp);
            let arena = refused(tag, &[deb], why);
            // The entry before it is whole; the cut one is not there.
            assert_eq!(
                std::fs::read(arena.target().join("usr/first")).unwrap(),
                b"complete"
            );
            if tag != "end" {
                assert!(!arena.target().join("f").exists(), "{tag}: a cut entry");
            }
        }
    }
    // A compressed stream cut short is refused by its decoder.
    let deb = with_last_file().data_compression(Comp::Xz);
    let mut bytes = deb.build();
    bytes.truncate(bytes.len() - 20);
    let e = DebReader::new(bytes.as_slice())
        .unwrap()
        .data()
        .map(|mut d| {
            d.entries()
                .unwrap()
                .map(|e| e.and_then(|mut e| e.finish()))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .unwrap_err();
    assert!(chain(&e).contains("data.tar.xz"), "{}", chain(&e));
    // A truncated control archive too.
    refused(
        "control-cut",
        &[pkg("c")
            .control_file("postinst", 0o755, vec![b'#'; 600])
            .truncate_control_tar(512 * 3 + 100)],
        "'./postinst': the archive ends inside its data",
    );
}

#[test]
fn control_members_outside_the_control_directory() {
    for (name, why) in [
        ("../x", "entry '../x' refused: '..' not allowed in archive object name"),
        (
            "/x",
            "entry '/x' refused: control member with an absolute name: only plain files at the top level of the control archive are allowed",
        ),
        (
            "./sub/x",
            "entry './sub/x' refused: package metadata contains directory 'sub'",
        ),
        (
            "./../../etc/x",
            "'..' not allowed in archive object name",
        ),
    ] {
        refused("control-path", &[pkg("ctl").control_file(name, 0o755, "x")], why);
    }
    refused(
        "control-symlink",
        &[pkg("ctl")
            .control_file("./postinst", 0o755, "x")
            .control_member("control.tar", control_with_symlink())],
        "entry 'postinst' refused: control member is a symbolic link, not a plain file",
    );
}

/// A control.tar whose `postinst` is a symlink to the host's shadow file.
fn control_with_symlink() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "./postinst", "/etc/shadow").unwrap();
    b.into_inner().unwrap()
}

#[test]
fn control_bomb_is_refused_before_it_is_read() {
    // 1 GiB of zeros as `md5sums`, about 32 KiB compressed; the reader
    // refuses it from its header. (By hand, `update` and `build` on such a
    // package peak at a few MB: see the cap's comment in debrepo::deb.)
    let bomb = testkit::zstd_tar_of_zeros("./md5sums", 1 << 30);
    assert!(bomb.len() < 1 << 20);
    let deb = pkg("bomb").control_member("control.tar.zst", bomb);
    refused(
        "control-bomb",
        &[deb],
        "member control.tar.zst: md5sums is 1073741824 bytes, more than the 67108864 bytes a control file may have",
    );
}

#[test]
fn tar_types_and_names_dpkg_refuses() {
    for (deb, why) in [
        (
            pkg("t").raw_entry("./c", b'7', ""),
            "unknown tar header type '7'",
        ),
        (
            pkg("t").raw_entry("./c", b'Z', ""),
            "unknown tar header type 'Z'",
        ),
        (
            pkg("t").raw_entry("./c", b'V', ""),
            "unsupported GNU tar header type 'V'",
        ),
        (
            pkg("t").raw_entry("./c", b'S', ""),
            "unsupported GNU tar header type 'S'",
        ),
        (
            pkg("t").raw_entry("./c", b'g', "9 a=b\n"),
            "unsupported PAX tar header type 'g'",
        ),
        (
            pkg("t").file(&format!("./{}", "a".repeat(5000)), "x"),
            "tar entry long name or link is too big (",
        ),
    ] {
        refused("types", &[deb], why);
    }
}

#[test]
fn absolute_paths_and_dotdot() {
    // Absolute names are taken inside the root, as dpkg takes them.
    let arena = Arena::new("absolute");
    let sibling = arena.sibling().display().to_string();
    unpack(
        &arena,
        &[pkg("abs").file(&format!("{sibling}/file"), "pwned")],
    )
    .unwrap();
    arena.check();
    let inside = arena.target().join(sibling.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(inside.join("file")).unwrap(),
        "pwned"
    );
    // `..` anywhere is refused.
    for path in ["./../sibling/file", "../../up-victim/file", "./usr/../../x"] {
        refused(
            "dotdot",
            &[pkg("dd").file(path, "pwned")],
            "'..' not allowed in archive object name",
        );
    }
}

#[test]
fn symlink_then_write() {
    // Within one package, and across two: a symlink out of the tree, then
    // a file through it. Resolved inside the root, the write either fails
    // (nothing there inside the tree) or lands inside the tree.
    let arena = Arena::new("symlink");
    let sibling = arena.sibling().display().to_string();
    for debs in [
        vec![pkg("one")
            .symlink("./esc", &sibling)
            .file("./esc/file", "pwned")],
        vec![pkg("one")
            .symlink("./up", "../../../../../../../../..")
            .file(&format!("./up{sibling}/file"), "pwned")],
        vec![
            pkg("first").symlink("./esc2", &sibling),
            pkg("second").file("./esc2/file", "pwned"),
        ],
        vec![
            pkg("first").symlink("./rel", "../sibling"),
            pkg("second").file("./rel/file", "pwned"),
        ],
    ] {
        let r = unpack(&arena, &debs);
        if let Err(e) = &r {
            assert!(e.contains("cannot open its directory in the tree"), "{e}");
        }
        arena.check();
    }
    // Where the link's target exists inside the tree, the file goes there.
    let arena = Arena::new("symlink-inside");
    std::fs::create_dir_all(arena.target().join(sibling.trim_start_matches('/'))).unwrap();
    unpack(
        &arena,
        &[
            pkg("first").symlink("./esc", &sibling),
            pkg("second").file("./esc/file", "pwned"),
        ],
    )
    .unwrap();
    arena.check();
    let inside = arena.target().join(sibling.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(inside.join("file")).unwrap(),
        "pwned"
    );
}

#[test]
fn hard_links_reach_only_earlier_files_of_the_package() {
    let arena = Arena::new("hardlink-probe");
    let sibling = arena.sibling().display().to_string();
    drop(arena);
    for (tag, debs, why) in [
        (
            "absolute",
            vec![pkg("hl").hardlink("./stolen", &format!("{sibling}/file"))],
            "which is not a file earlier in the archive",
        ),
        (
            "dotdot",
            vec![pkg("hl").hardlink("./stolen", "../sibling/file")],
            "which is not a file earlier in the archive",
        ),
        (
            "later",
            vec![pkg("hl").hardlink("./a", "./b").file("./b", "x")],
            "which is not a file earlier in the archive",
        ),
        (
            "through-symlink",
            vec![pkg("hl")
                .symlink("./esc", &sibling)
                .hardlink("./stolen", "./esc/file")],
            "which is not a file earlier in the archive",
        ),
        (
            "other-package",
            vec![
                pkg("owner").file("./etc-shadow", "secret"),
                pkg("thief").hardlink("./stolen", "./etc-shadow"),
            ],
            "which is not a file earlier in the archive",
        ),
    ] {
        let arena = refused(tag, &debs, why);
        assert!(!arena.target().join("stolen").exists(), "{tag}");
    }
    // A link to an earlier file of the package is made.
    let arena = Arena::new("hardlink-ok");
    unpack(
        &arena,
        &[pkg("hl").file("./a", "data").hardlink("./b", "./a")],
    )
    .unwrap();
    arena.check();
    assert_eq!(std::fs::read(arena.target().join("b")).unwrap(), b"data");
}

#[test]
fn device_nodes_and_fifos() {
    let arena = Arena::new("devices");
    let out = unpack(
        &arena,
        &[pkg("dev")
            .dir("./dev/")
            .block_device("./dev/sda", 8, 0)
            .char_device("./dev/mem", 1, 1)
            .fifo("./dev/fifo")],
    )
    .unwrap();
    arena.check();
    let ft = |p: &str| {
        std::fs::symlink_metadata(arena.target().join(p))
            .unwrap()
            .file_type()
    };
    if Ownership::for_this_process() == Ownership::Apply {
        assert!(ft("dev/sda").is_block_device());
        assert!(ft("dev/mem").is_char_device());
        assert!(ft("dev/fifo").is_fifo());
    } else {
        // Rootless: empty placeholders, the nodes only recorded.
        for p in ["dev/sda", "dev/mem", "dev/fifo"] {
            assert!(ft(p).is_file(), "{p}");
            assert_eq!(std::fs::metadata(arena.target().join(p)).unwrap().len(), 0);
        }
        let kinds: Vec<_> = out.recorded.iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            kinds,
            ["dev/fifo", "dev/mem", "dev/sda"]
                .map(PathBuf::from)
                .to_vec()
        );
    }
}

/// A prerequisite of a test is missing: fail where the suite must run it
/// all, else say so and skip.
fn missing(what: &str) {
    testkit::required(None::<()>, what);
}

/// As root (CI), every case runs again as an unprivileged user made for the
/// test, where ownership and device nodes are recorded, not applied.
#[test]
fn rootless_as_an_unprivileged_user() {
    if std::env::var_os("RDEBOOTSTRAP_HOSTILE_CHILD").is_some() {
        return;
    }
    if Ownership::for_this_process() != Ownership::Apply {
        return missing("not root: cannot run the cases as another user");
    }
    let Some(user) = testkit::users::test_user("rdeb-hostile", false) else {
        return missing("cannot make the test user (useradd, setpriv)");
    };
    // A copy the user can run, wherever the checkout lives.
    let dir = TempDir::new("hostile-bin");
    let me = dir.path().join("hostile-tests");
    std::fs::copy(std::env::current_exe().unwrap(), &me).unwrap();
    for p in [dir.path(), me.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = user
        .command(&me)
        .args([
            "--test-threads=1",
            // This file's tests only (they are one module of tests/all.rs).
            &format!("{}::", module_path!().split_once("::").unwrap().1),
            "--skip",
            "rootless_as_an_unprivileged_user",
        ])
        .env("RDEBOOTSTRAP_HOSTILE_CHILD", "1")
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("test result: ok. 10 passed"), "{out}");
}
