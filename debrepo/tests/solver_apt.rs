//! Differential tests against apt on the real trixie index: our solver
//! chooses exactly the packages and versions `apt-get install --simulate`
//! chooses from the same index, run the way mmdebstrap runs it
//! (`pkgCacheGen::ForceEssential ","`, no Recommends).
//!
//! - `minbase_matches_apt`: mmdebstrap's minbase request in one apt run.
//! - `choices_match_apt`: for fixed request sets (conflicting requests,
//!   virtual names with several providers, transitional packages,
//!   alternatives) and a seeded random sample of 1–4 package names, each
//!   installed on top of minbase as mmdebstrap does it: the essential stage
//!   first (`Essential: yes` packages, from an empty status), recorded as
//!   installed, then the rest of minbase (`Priority: required`, not
//!   essential) and the set in one `apt-get install`. Where apt succeeds
//!   the sets must be identical (names and versions); where apt fails we
//!   must fail too. The differences we know of are listed in [`KNOWN`]
//!   with their reasons.
//!
//! apt-get is a prerequisite: without it the tests fail under CI or
//! RDEBOOTSTRAP_E2E and are skipped elsewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use debrepo::manifest::Variant;
use debrepo::packages::{parse_all, BinaryPackage};
use debrepo::solver::{solve, validate, Request, Universe};
use debrepo::update::{variant_packages, PrimaryPackage};

fn apt_get_present() -> bool {
    testkit::require(
        Command::new("apt-get").arg("--version").output().is_ok(),
        "apt-get",
    )
}

/// A private apt setup over one Packages index: lists, caches and
/// configuration in a temporary directory, so nothing of the host's apt
/// state is read or written.
struct Apt {
    dir: testkit::TempDir,
}

/// The request sets every run checks: the cases issue 15 found, and
/// other tricky ones.
const FIXED: &[&[&str]] = &[
    // Two requested real packages that conflict: apt refuses (these two
    // come first: the test checks our error names both).
    &["busybox", "busybox-static"],
    &["resolvconf", "openresolv"],
    // Virtual names with several providers, reached through dependencies.
    &["php8.4-imagick"],
    &["golang-github-containers-common"],
    // Satisfied through what is already chosen, or by the real package.
    &["roundcube-core"],
    &["libxft-dev"],
    &["littler"],
    &["fontconfig-config"],
    // Alternatives and virtual names with many providers.
    &["mailutils"],
    &["default-jre-headless"],
    &["xserver-xorg-core"],
];

/// Request sets where we knowingly differ from apt, with the reason.
const KNOWN: &[(&[&str], &str)] = &[];

/// Random request sets drawn from the index: [`RANDOM_SETS_CI`] where
/// the suite promises everything (CI, `RDEBOOTSTRAP_E2E`), else
/// [`RANDOM_SETS`]; `RDEBOOTSTRAP_APT_SETS` sets the number. Each set
/// costs an apt-get run of 2 to 5 s of one core here (apt computes its
/// dependency cache over the whole index each time): 300 sets took 13
/// of CI's minutes, 100 take about 4.
const RANDOM_SETS: usize = 30;
const RANDOM_SETS_CI: usize = 100;
const SEED: u64 = 0x15_2026_1129;

impl Apt {
    fn new(index: &[u8]) -> Apt {
        let dir = testkit::TempDir::new("apt-sim");
        let d = dir.path();
        for sub in [
            "lists/partial",
            "state",
            "log",
            "etc/apt.conf.d",
            "etc/preferences.d",
            "etc/sources.list.d",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(
            d.join("etc/sources.list.d/test.list"),
            "deb [trusted=yes] file:/nonexistent trixie main\n",
        )
        .unwrap();
        std::fs::write(
            d.join("lists/_nonexistent_dists_trixie_main_binary-amd64_Packages"),
            index,
        )
        .unwrap();
        // Read through APT_CONFIG before anything else: without it apt
        // reads the host's apt.conf.d (which can change its choices) and
        // extended_states, and writes its planner's log (eipp.log.xz, the
        // whole request compressed, on every run) into the host's
        // /var/log/apt. The options below (-o) come after and win.
        let dir_of = |sub: &str| d.join(sub).display().to_string();
        std::fs::write(
            d.join("apt.conf"),
            format!(
                "Dir::Etc::main \"/dev/null\";\nDir::Etc::parts \"{}\";\n\
                 Dir::State \"{}\";\nDir::Log \"{}\";\n",
                dir_of("etc/apt.conf.d"),
                dir_of("state"),
                dir_of("log"),
            ),
        )
        .unwrap();
        Apt { dir }
    }

    /// apt-get or apt-cache with this setup's configuration file.
    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        cmd.env("APT_CONFIG", self.dir.path().join("apt.conf"));
        cmd
    }

    /// A dpkg status (named `name`) with these stanzas installed, and its
    /// cache directory; apt's caches for it are built once here, so that
    /// the runs on it only read them.
    fn state(&self, name: &str, installed: &[&BinaryPackage<'_>]) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let status = d.join(format!("status-{name}"));
        let mut text = String::new();
        for p in installed {
            let raw = p.raw.trim_end();
            let (first, rest) = raw.split_once('\n').unwrap_or((raw, ""));
            text.push_str(first);
            text.push_str("\nStatus: install ok installed\n");
            text.push_str(rest);
            text.push_str("\n\n");
        }
        std::fs::write(&status, text).unwrap();
        let cache = d.join(format!("cache-{name}"));
        std::fs::create_dir_all(cache.join("archives/partial")).unwrap();
        let out = self
            .command("apt-cache")
            .args(self.options(&status, &cache))
            .arg("gencaches")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "apt-cache gencaches: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (status, cache)
    }

    fn options(&self, status: &Path, cache: &Path) -> Vec<String> {
        let d = self.dir.path();
        let opt = |k: &str, v: &Path| format!("-o{k}={}", v.display());
        vec![
            opt("Dir::State::status", status),
            opt("Dir::State::Lists", &d.join("lists")),
            opt("Dir::Cache", cache),
            opt("Dir::Cache::pkgcache", &cache.join("pkgcache.bin")),
            opt("Dir::Cache::srcpkgcache", &cache.join("srcpkgcache.bin")),
            opt("Dir::Etc", &d.join("etc")),
            opt("Dir::Etc::SourceParts", &d.join("etc/sources.list.d")),
            "-oDir::Etc::SourceList=/dev/null".into(),
            "-oAPT::Architecture=amd64".into(),
            "-oAPT::Architectures::=amd64".into(),
            "-opkgCacheGen::ForceEssential=,".into(),
            "-oAPT::Install-Recommends=false".into(),
            "-oDebug::NoLocking=1".into(),
        ]
    }

    /// `apt-get install --simulate names` on a state: the `name=version`
    /// of every package it would install, or apt's complaint.
    fn install(
        &self,
        (status, cache): &(PathBuf, PathBuf),
        names: &[String],
    ) -> Result<Vec<String>, String> {
        let out = self
            .command("apt-get")
            .args(self.options(status, cache))
            .args(["install", "--simulate"])
            .args(names)
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .map(|l| {
                let mut w = l.split_whitespace();
                let name = w.next().unwrap();
                let version = w.next().unwrap().trim_start_matches('(');
                format!("{name}={version}")
            })
            .collect())
    }
}

fn our_solve(u: &Universe<'_>, install: Vec<String>) -> Result<BTreeSet<String>, String> {
    let request = Request {
        install,
        forbid: Vec::new(),
        recommends: false,
        foreign: Vec::new(),
    };
    let set = solve(u, &request).map_err(|e| e.to_string())?;
    let chosen: Vec<_> = set.iter().map(|c| &c.package).collect();
    assert_eq!(validate("amd64", &chosen), vec![]);
    Ok(set
        .iter()
        .map(|c| format!("{}={}", c.package.name, c.package.version))
        .collect())
}

#[test]
fn minbase_matches_apt() {
    if !apt_get_present() {
        return;
    }
    let index = testkit::trixie_packages();
    let text = std::str::from_utf8(&index).unwrap();
    let pkgs = parse_all(text).unwrap();
    // mmdebstrap's minbase: Essential, Priority: required, and apt.
    let primary: Vec<PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let install = variant_packages(&primary, "amd64", Variant::Minbase);

    // apt, on the same index, with an empty dpkg status.
    let apt = Apt::new(&index);
    let empty = apt.state("empty", &[]);
    let apt_set: BTreeSet<String> = apt.install(&empty, &install).unwrap().into_iter().collect();

    let mut u = Universe::new("amd64");
    u.add(0, 500, pkgs.iter().cloned());
    let ours = our_solve(&u, install).unwrap();
    assert_eq!(ours, apt_set);
    assert!(ours.len() > 50);
    eprintln!("{} packages, identical to apt's choice", ours.len());
}

/// What one request set gave: apt's set (or its refusal) and ours.
struct Outcome {
    set: Vec<String>,
    apt: Result<BTreeSet<String>, String>,
    ours: Result<BTreeSet<String>, String>,
}

impl Outcome {
    fn agrees(&self) -> bool {
        match (&self.apt, &self.ours) {
            (Ok(a), Ok(o)) => a == o,
            (Err(_), Err(_)) => true,
            _ => false,
        }
    }

    fn describe(&self) -> String {
        let side = |r: &Result<BTreeSet<String>, String>,
                    other: &Result<BTreeSet<String>, String>| match (r, other) {
            (Ok(a), Ok(b)) => format!("{:?}", a.difference(b).collect::<Vec<_>>()),
            (Ok(a), Err(_)) => format!("{} packages", a.len()),
            (Err(e), _) => format!(
                "fails: {}",
                e.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
            ),
        };
        format!(
            "{:?}: apt only {}; ours only {}",
            self.set,
            side(&self.apt, &self.ours),
            side(&self.ours, &self.apt)
        )
    }
}

#[test]
fn choices_match_apt() {
    if !apt_get_present() {
        return;
    }
    let index = testkit::trixie_packages();
    let text = std::str::from_utf8(&index).unwrap();
    let pkgs = parse_all(text).unwrap();
    let primary: Vec<PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let essential = variant_packages(&primary, "amd64", Variant::Essential);
    let minbase = variant_packages(&primary, "amd64", Variant::Minbase);
    let mut u = Universe::new("amd64");
    u.add(0, 500, pkgs.iter().cloned());

    // The sets: the fixed ones, then random names (amd64 or all).
    let mut names: Vec<&str> = pkgs
        .iter()
        .filter(|p| p.architecture == "amd64" || p.architecture == "all")
        .map(|p| p.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut sets: Vec<Vec<String>> = FIXED
        .iter()
        .map(|s| s.iter().map(|n| n.to_string()).collect())
        .collect();
    let mut rng = testkit::Rng(SEED);
    let random_sets = std::env::var("RDEBOOTSTRAP_APT_SETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if testkit::must_run_all() {
            RANDOM_SETS_CI
        } else {
            RANDOM_SETS
        });
    for _ in 0..random_sets {
        let n = 1 + rng.below(4) as usize;
        let set: Vec<String> = (0..n)
            .map(|_| names[rng.below(names.len() as u64) as usize].to_owned())
            .collect();
        sets.push(set);
    }

    // apt: the essential stage from an empty status, recorded as
    // installed; then each set with the rest of minbase on top.
    let apt = Apt::new(&index);
    let empty = apt.state("empty", &[]);
    let stage1 = apt.install(&empty, &essential).unwrap();
    let installed: Vec<&BinaryPackage<'_>> = stage1
        .iter()
        .map(|nv| {
            let (n, v) = nv.split_once('=').unwrap();
            pkgs.iter()
                .find(|p| p.name == n && p.version.as_str() == v)
                .unwrap()
        })
        .collect();
    let essential_state = apt.state("essential", &installed);
    let rest: Vec<String> = minbase
        .iter()
        .filter(|n| !essential.contains(n))
        .cloned()
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let apt_results: Vec<(usize, Result<BTreeSet<String>, String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(set) = sets.get(i) else { break };
                        let mut args = rest.clone();
                        args.extend(set.iter().cloned());
                        let r = apt.install(&essential_state, &args).map(|inst| {
                            stage1.iter().cloned().chain(inst).collect::<BTreeSet<_>>()
                        });
                        out.push((i, r));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut apt_by_set: Vec<Option<Result<BTreeSet<String>, String>>> = vec![None; sets.len()];
    for (i, r) in apt_results {
        apt_by_set[i] = Some(r);
    }

    let started = std::time::Instant::now();
    let mut outcomes = Vec::new();
    for (set, apt) in sets.iter().zip(apt_by_set) {
        let mut install = minbase.clone();
        install.extend(set.iter().cloned());
        outcomes.push(Outcome {
            set: set.clone(),
            apt: apt.unwrap(),
            ours: our_solve(&u, install),
        });
    }

    let solving = started.elapsed();
    // Conflicting requests fail naming both packages.
    for o in &outcomes[..2] {
        let e = o.ours.as_ref().unwrap_err();
        assert!(
            e.contains("cannot be installed together")
                && o.set.iter().all(|n| e.contains(n.as_str())),
            "{e}"
        );
    }
    let known = |set: &[String]| KNOWN.iter().find(|(k, _)| k.iter().eq(set.iter()));
    let mut unexpected = Vec::new();
    let mut identical = 0;
    let apt_solved = outcomes.iter().filter(|o| o.apt.is_ok()).count();
    for o in &outcomes {
        if o.agrees() {
            identical += 1;
            assert!(
                known(&o.set).is_none(),
                "{:?} is listed in KNOWN but agrees with apt now",
                o.set
            );
        } else if let Some((_, why)) = known(&o.set) {
            eprintln!("known difference: {} ({why})", o.describe());
        } else {
            unexpected.push(o.describe());
        }
    }
    eprintln!(
        "{identical} of {} sets identical to apt ({apt_solved} solved by apt, {} refused); \
         our {} solves took {solving:.1?}",
        outcomes.len(),
        outcomes.len() - apt_solved,
        outcomes.len()
    );
    assert!(
        unexpected.is_empty(),
        "differences from apt:\n{}",
        unexpected.join("\n")
    );
}
