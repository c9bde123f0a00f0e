//! Property tests: random archives and requests; every solution the solver
//! returns must pass the independent validator, contain what was asked
//! for, and respect the forbids. Deterministic (seeded), so failures
//! reproduce.

use debrepo::packages::parse_all;
use debrepo::solver::{solve, validate, Request, Universe};

use testkit::Rng;

const VIRTUALS: usize = 3;

fn name(i: usize) -> String {
    format!("p{i}")
}

fn constraint(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!(" (>= {})", 1 + rng.below(3)),
        1 => format!(" (<< {})", 2 + rng.below(2)),
        2 => format!(" (= {})", 1 + rng.below(3)),
        _ => String::new(),
    }
}

/// A random Packages text of `names` packages, each in 1-3 versions.
fn archive(rng: &mut Rng, names: usize) -> String {
    let mut out = String::new();
    for i in 0..names {
        for v in 1..=1 + rng.below(3) {
            out.push_str(&format!(
                "Package: {}\nVersion: {v}\nArchitecture: {}\n",
                name(i),
                if rng.chance(20) { "all" } else { "amd64" }
            ));
            let mut deps = Vec::new();
            for _ in 0..rng.below(3) {
                let mut alts = vec![format!(
                    "{}{}",
                    name(rng.below(names as u64) as usize),
                    constraint(rng)
                )];
                if rng.chance(30) {
                    alts.push(format!(
                        "v{}{}",
                        rng.below(VIRTUALS as u64),
                        if rng.chance(30) { " (>= 2)" } else { "" }
                    ));
                }
                deps.push(alts.join(" | "));
            }
            if !deps.is_empty() {
                out.push_str(&format!("Depends: {}\n", deps.join(", ")));
            }
            if rng.chance(25) {
                let v = rng.below(VIRTUALS as u64);
                let ver = if rng.chance(50) {
                    format!(" (= {})", 1 + rng.below(3))
                } else {
                    String::new()
                };
                out.push_str(&format!("Provides: v{v}{ver}\n"));
                if rng.chance(40) {
                    out.push_str(&format!("Conflicts: v{v}\n"));
                }
            } else if rng.chance(20) {
                out.push_str(&format!(
                    "Conflicts: {}{}\n",
                    name(rng.below(names as u64) as usize),
                    constraint(rng)
                ));
            }
            if rng.chance(10) {
                out.push_str(&format!(
                    "Breaks: {} (<< 2)\n",
                    name(rng.below(names as u64) as usize)
                ));
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn solutions_are_always_valid() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut solved, mut unsat) = (0, 0);
    const NAMES: usize = 14;
    for _ in 0..2000 {
        let text = archive(&mut rng, NAMES);
        let mut u = Universe::new("amd64");
        u.add(0, 500, parse_all(&text).unwrap());
        let install: Vec<String> = (0..1 + rng.below(3))
            .map(|_| name(rng.below(NAMES as u64) as usize))
            .collect();
        let forbid: Vec<String> = if rng.chance(30) {
            vec![format!("{} (>= 3)", name(rng.below(NAMES as u64) as usize))]
        } else {
            vec![]
        };
        let request = Request {
            install: install.clone(),
            forbid: forbid.clone(),
            recommends: false,
            foreign: Vec::new(),
        };
        match solve(&u, &request) {
            Ok(set) => {
                solved += 1;
                let pkgs: Vec<_> = set.iter().map(|c| &c.package).collect();
                assert_eq!(validate("amd64", &pkgs), vec![], "{install:?} in\n{text}");
                for want in &install {
                    assert!(
                        set.iter().any(|c| c.package.name == want),
                        "{want} missing for {install:?} in\n{text}"
                    );
                }
                for f in &forbid {
                    let n = f.split_whitespace().next().unwrap();
                    assert!(
                        !set.iter().any(|c| c.package.name == n
                            && c.package.version.as_str().parse::<u32>().unwrap() >= 3),
                        "forbidden {f} chosen in\n{text}"
                    );
                }
            }
            Err(_) => unsat += 1,
        }
    }
    // Both outcomes occur, so the generator exercises the solver.
    assert!(
        solved > 500 && unsat > 50,
        "{solved} solved, {unsat} unsatisfiable"
    );
    eprintln!("{solved} solved and validated, {unsat} unsatisfiable");
}

/// On small archives every combination can be tried: the solver must find a
/// solution exactly when one exists (the oracle checks combinations with
/// the independent validator).
#[test]
fn unsatisfiable_means_no_combination_works() {
    const NAMES: usize = 6;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut agree_sat, mut agree_unsat) = (0, 0);
    for _ in 0..300 {
        let text = archive(&mut rng, NAMES);
        let pkgs = parse_all(&text).unwrap();
        let install: Vec<String> = (0..1 + rng.below(2))
            .map(|_| name(rng.below(NAMES as u64) as usize))
            .collect();
        // Candidates per name (amd64 and all only).
        let mut by_name: Vec<Vec<usize>> = vec![Vec::new(); NAMES];
        for (i, p) in pkgs.iter().enumerate() {
            by_name[p.name[1..].parse::<usize>().unwrap()].push(i);
        }
        // Try every choice: per name, none or one of its versions.
        let mut exists = false;
        let mut choice = [0usize; NAMES];
        'search: loop {
            let set: Vec<_> = (0..NAMES)
                .filter(|&n| choice[n] > 0)
                .map(|n| &pkgs[by_name[n][choice[n] - 1]])
                .collect();
            if install.iter().all(|w| set.iter().any(|p| p.name == w))
                && validate("amd64", &set).is_empty()
            {
                exists = true;
                break;
            }
            for n in 0..NAMES {
                choice[n] += 1;
                if choice[n] <= by_name[n].len() {
                    continue 'search;
                }
                choice[n] = 0;
            }
            break;
        }
        let mut u = Universe::new("amd64");
        u.add(0, 500, pkgs.iter().cloned());
        let request = Request {
            install: install.clone(),
            forbid: vec![],
            recommends: false,
            foreign: Vec::new(),
        };
        let result = solve(&u, &request);
        assert_eq!(result.is_ok(), exists, "{install:?} in\n{text}");
        if exists {
            agree_sat += 1;
        } else {
            agree_unsat += 1;
        }
    }
    assert!(
        agree_sat > 50 && agree_unsat > 10,
        "{agree_sat} satisfiable, {agree_unsat} not"
    );
    eprintln!("{agree_sat} satisfiable and {agree_unsat} unsatisfiable, as exhaustive search says");
}

/// A random two-architecture archive (amd64 native, i386 foreign, `all`):
/// random Multi-Arch fields and architecture qualifiers, 1-2 versions each.
fn multiarch_archive(rng: &mut Rng, names: usize) -> String {
    let qualifier = |rng: &mut Rng| match rng.below(8) {
        0 => ":any",
        1 => ":native",
        2 => ":i386",
        3 => ":amd64",
        _ => "",
    };
    let mut out = String::new();
    for i in 0..names {
        for v in 1..=1 + rng.below(2) {
            let arch = match rng.below(7) {
                0 => "all",
                1..=3 => "i386",
                _ => "amd64",
            };
            out.push_str(&format!(
                "Package: {}\nVersion: {v}\nArchitecture: {arch}\n",
                name(i)
            ));
            let ma = match rng.below(10) {
                0..=2 if arch != "all" => Some("same"),
                3 | 4 => Some("foreign"),
                5 => Some("allowed"),
                _ => None,
            };
            if let Some(ma) = ma {
                out.push_str(&format!("Multi-Arch: {ma}\n"));
            }
            let deps: Vec<String> = (0..rng.below(3))
                .map(|_| {
                    let n = name(rng.below(names as u64) as usize);
                    let q = qualifier(rng);
                    let c = constraint(rng);
                    if rng.chance(20) {
                        format!("{n}{q}{c} | v0")
                    } else {
                        format!("{n}{q}{c}")
                    }
                })
                .collect();
            if !deps.is_empty() {
                out.push_str(&format!("Depends: {}\n", deps.join(", ")));
            }
            if rng.chance(20) {
                out.push_str("Provides: v0\n");
            }
            if rng.chance(15) {
                let n = name(rng.below(names as u64) as usize);
                out.push_str(&format!("Conflicts: {n}{}\n", qualifier(rng)));
            }
            out.push('\n');
        }
    }
    out
}

/// Multi-Arch: on small two-architecture archives, the solver finds a
/// solution exactly when exhaustive search over every combination of
/// instances (per name and architecture: none or one version) finds one
/// that the independent validator accepts; its solutions pass the
/// validator too.
#[test]
fn multiarch_agrees_with_exhaustive_search() {
    const NAMES: usize = 4;
    let mut rng = Rng(0x51_7c_c1_b7_27_22_0a_95);
    let (mut agree_sat, mut agree_unsat) = (0, 0);
    for _ in 0..300 {
        let text = multiarch_archive(&mut rng, NAMES);
        let pkgs = parse_all(&text).unwrap();
        let install: Vec<String> = (0..1 + rng.below(2))
            .map(|_| {
                let q = match rng.below(4) {
                    0 => ":i386",
                    1 => ":amd64",
                    _ => "",
                };
                format!("{}{q}", name(rng.below(NAMES as u64) as usize))
            })
            .collect();
        // The request as a native package's dependencies.
        let root_text = format!(
            "Package: request\nVersion: 1\nArchitecture: amd64\nDepends: {}\n",
            install.join(", ")
        );
        let root = parse_all(&root_text).unwrap().remove(0);
        // Slots: per name, native (amd64 and all) and i386.
        let slot = |p: &debrepo::packages::BinaryPackage<'_>| {
            2 * p.name[1..].parse::<usize>().unwrap() + usize::from(p.architecture == "i386")
        };
        let mut by_slot: Vec<Vec<usize>> = vec![Vec::new(); 2 * NAMES];
        for (i, p) in pkgs.iter().enumerate() {
            by_slot[slot(p)].push(i);
        }
        let mut exists = false;
        let mut choice = [0usize; 2 * NAMES];
        'search: loop {
            let mut set: Vec<_> = (0..2 * NAMES)
                .filter(|&n| choice[n] > 0)
                .map(|n| &pkgs[by_slot[n][choice[n] - 1]])
                .collect();
            set.push(&root);
            if validate("amd64", &set).is_empty() {
                exists = true;
                break;
            }
            for n in 0..2 * NAMES {
                choice[n] += 1;
                if choice[n] <= by_slot[n].len() {
                    continue 'search;
                }
                choice[n] = 0;
            }
            break;
        }
        let mut u = Universe::with_foreign("amd64", &["i386".to_owned()]);
        u.add(0, 500, pkgs.iter().cloned());
        let request = Request {
            install: install.clone(),
            forbid: vec![],
            recommends: false,
            foreign: vec!["i386".into()],
        };
        let result = solve(&u, &request);
        assert_eq!(result.is_ok(), exists, "{install:?} in\n{text}");
        if let Ok(chosen) = result {
            let mut set: Vec<_> = chosen.iter().map(|c| &c.package).collect();
            set.push(&root);
            assert_eq!(validate("amd64", &set), vec![], "{install:?} in\n{text}");
            agree_sat += 1;
        } else {
            agree_unsat += 1;
        }
    }
    assert!(
        agree_sat > 50 && agree_unsat > 10,
        "{agree_sat} satisfiable, {agree_unsat} not"
    );
    eprintln!("multi-arch: {agree_sat} satisfiable and {agree_unsat} unsatisfiable, as exhaustive search says");
}
