//! apt's choices (see [`super::apt`]) on small universes.

use super::*;
use crate::packages::parse_all;

fn solve_names(text: &str, install: &[&str]) -> Result<Vec<String>, SolveError> {
    let mut u = Universe::new("amd64");
    u.add(0, 500, parse_all(text).unwrap());
    let r = Request {
        install: install.iter().map(|s| s.to_string()).collect(),
        ..Request::default()
    };
    let s = solve(&u, &r)?;
    let pkgs: Vec<_> = s.iter().map(|c| &c.package).collect();
    assert_eq!(validate("amd64", &pkgs), vec![]);
    Ok(s.iter().map(|c| c.package.name.to_owned()).collect())
}

fn stanza(name: &str, fields: &str) -> String {
    format!("Package: {name}\nVersion: 1\nArchitecture: amd64\n{fields}\n")
}

#[test]
fn a_requested_real_package_is_that_package() {
    // busybox-static provides and conflicts with busybox, as in trixie.
    let text = [
        stanza("busybox", ""),
        stanza(
            "busybox-static",
            "Provides: busybox\nConflicts: busybox\nReplaces: busybox",
        ),
    ]
    .join("\n");
    assert_eq!(solve_names(&text, &["busybox"]).unwrap(), ["busybox"]);
    assert_eq!(
        solve_names(&text, &["busybox-static"]).unwrap(),
        ["busybox-static"]
    );
    let e = solve_names(&text, &["busybox", "busybox-static"]).unwrap_err();
    assert!(
        matches!(&e, SolveError::ConflictingRequests { first, second, .. }
            if first == "busybox" && second == "busybox-static"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "the requested packages busybox and busybox-static cannot be installed together: \
         busybox-static declares Conflicts or Breaks against busybox"
    );
}

#[test]
fn providers_by_priority_then_later_in_apts_cache() {
    let base = |extra: &str| {
        [
            stanza("user", "Depends: virt"),
            stanza("p-early", "Priority: optional\nProvides: virt"),
            stanza("p-late", "Priority: optional\nProvides: virt"),
            extra.to_owned(),
        ]
        .join("\n")
    };
    // Equal priorities: the package apt met later wins.
    assert_eq!(
        solve_names(&base(""), &["user"]).unwrap(),
        ["p-late", "user"]
    );
    // A higher priority wins over the order.
    let text = base(&stanza("p-std", "Priority: standard\nProvides: virt"));
    assert_eq!(solve_names(&text, &["user"]).unwrap(), ["p-std", "user"]);
    // The order is apt's numbering, in which a name mentioned earlier (here
    // in a Suggests before its own stanza) comes first.
    let text = [
        stanza("user", "Depends: virt\nSuggests: p-late"),
        stanza("p-early", "Priority: optional\nProvides: virt"),
        stanza("p-late", "Priority: optional\nProvides: virt"),
    ]
    .join("\n");
    assert_eq!(solve_names(&text, &["user"]).unwrap(), ["p-early", "user"]);
}

#[test]
fn satisfied_through_provides_adds_nothing_else_the_real_package() {
    // impl, marked first, provides tool: tool is not added.
    let text = [
        stanza("top", "Depends: impl, tool"),
        stanza("impl", "Provides: tool"),
        stanza("tool", ""),
    ]
    .join("\n");
    assert_eq!(solve_names(&text, &["top"]).unwrap(), ["impl", "top"]);
    // Nothing chosen provides it yet: the real package, not the provider.
    let text = [
        stanza("top", "Depends: tool, impl"),
        stanza("impl", "Provides: tool"),
        stanza("tool", ""),
    ]
    .join("\n");
    assert_eq!(
        solve_names(&text, &["top"]).unwrap(),
        ["impl", "tool", "top"]
    );
}

#[test]
fn the_first_alternative_even_if_another_comes_later() {
    // fontconfig-config's fonts: apt marks the first alternative when it
    // meets the group, although a later request brings the second.
    let text = [
        stanza("config", "Depends: font-a | font-b"),
        stanza("other", "Depends: font-b"),
        stanza("font-a", ""),
        stanza("font-b", ""),
    ]
    .join("\n");
    assert_eq!(
        solve_names(&text, &["config", "other"]).unwrap(),
        ["config", "font-a", "font-b", "other"]
    );
    // Requests get their dependencies in the order they were made: the
    // group is met when config's turn comes.
    assert_eq!(
        solve_names(&text, &["other", "config"]).unwrap(),
        ["config", "font-b", "other"]
    );
}

#[test]
fn essential_requests_first_then_the_rest() {
    // The essential stage chooses alone (first alternative); the second
    // stage finds the group satisfied.
    let text = [
        stanza("ess", "Essential: yes\nDepends: sh-a | sh-b"),
        stanza("app", "Depends: sh-b | sh-a"),
        stanza("sh-a", ""),
        stanza("sh-b", ""),
    ]
    .join("\n");
    assert_eq!(
        solve_names(&text, &["app", "ess"]).unwrap(),
        ["app", "ess", "sh-a"]
    );
}

#[test]
fn what_apt_leaves_broken_resolvo_solves() {
    // apt marks a (first alternative) and its dependency c, which a
    // requested package conflicts with (apt checks only the Conflicts of
    // what it marks, so this is left to its problem resolver, which is
    // not replayed): resolvo finds the set.
    let text = [
        stanza("top", "Depends: a | b"),
        stanza("a", "Depends: c"),
        stanza("c", ""),
        stanza("b", ""),
        stanza("keep", "Conflicts: c"),
    ]
    .join("\n");
    let mut u = Universe::new("amd64");
    u.add(0, 500, parse_all(&text).unwrap());
    let r = Request {
        install: vec!["top".into(), "keep".into()],
        ..Request::default()
    };
    assert!(apt::solve(&u, &r).is_none());
    assert_eq!(
        solve_names(&text, &["top", "keep"]).unwrap(),
        ["b", "keep", "top"]
    );
}

/// apt's numbering made in two halves on two threads is the one made in
/// one pass: names first met in the second half (as packages, or only in
/// relationships) come after every name of the first.
#[test]
fn the_numbering_in_two_halves_is_the_numbering_in_one() {
    let text: Vec<String> = (0..10_000)
        .map(|i| {
            stanza(
                &format!("p{i}"),
                &format!(
                    "Depends: p{} | v{}:any (>= 1), late{}\nBreaks: gone{}\nProvides: v{}",
                    (i * 7919) % 10_000,
                    i % 13,
                    i / 100,
                    i % 977,
                    i % 5
                ),
            )
        })
        .collect();
    let text = text.join("\n");
    let mut u = Universe::new("amd64");
    u.add(0, 500, parse_all(&text).unwrap());
    let halves = apt::names_order(&u);
    let one = apt::first_seen(&u.candidates);
    assert!(one.len() > 10_000);
    assert_eq!(halves, one);
}

/// A universe of `indices` added as `Candidates` adds them: from record
/// tables with their names (`tables`), or parsed.
fn universe_of<'a>(
    indices: &[(&'a str, i64)],
    tables: &'a [crate::packages::RecordTable],
) -> Universe<'a> {
    let mut u = Universe::new("amd64");
    let mut lists = Vec::new();
    for (k, (text, priority)) in indices.iter().enumerate() {
        let mark = u.mark();
        match tables.get(k) {
            Some(t) => {
                for p in t.records(text.as_bytes()) {
                    u.add_one(k, *priority, p);
                }
                lists.push(t.names(text.as_bytes()).unwrap());
                u.index_listed(mark, true);
            }
            None => {
                for p in parse_all(text).unwrap() {
                    u.add_one(k, *priority, p);
                }
                u.index_listed(mark, false);
            }
        }
    }
    u.set_listed_order(apt::number_listed(lists.iter().map(Vec::as_slice)));
    u
}

fn tables_of(indices: &[(&str, i64)]) -> Vec<crate::packages::RecordTable> {
    indices
        .iter()
        .map(|(t, _)| {
            crate::packages::RecordTable::build(t.as_bytes())
                .unwrap()
                .unwrap()
        })
        .collect()
}

#[test]
fn apt_numbering_from_the_tables_names_is_the_one_read_from_the_records() {
    let a = [
        stanza("a", "Depends: b:any, c\nConflicts: z\nProvides: v, a"),
        stanza("b", "Pre-Depends: c\nRecommends: d | e\nEnhances: a"),
    ]
    .join("\n");
    let b = [
        stanza("e", "Depends: f\nBreaks: a\nReplaces: y"),
        stanza("c", "Suggests: x\nProvides: v"),
    ]
    .join("\n");
    let indices = [(a.as_str(), 500), (b.as_str(), 500)];
    let tables = tables_of(&indices);
    let from_tables = universe_of(&indices, &tables);
    assert!(from_tables.listed_order().is_some());
    let parsed = universe_of(&indices, &[]);
    assert!(parsed.listed_order().is_none());
    assert_eq!(from_tables.cache_order(), parsed.cache_order());
    assert_eq!(apt::cache_order(&parsed), parsed.cache_order());
    // A record not added as a new candidate (another architecture, or a
    // copy of one already there whose relationships differ) leaves the
    // names unused: apt's numbering counts candidates.
    let other_arch = format!("{b}\nPackage: w\nVersion: 1\nArchitecture: arm64\nDepends: q\n");
    let copy = format!("{}\n{b}", stanza("a", "Depends: q"));
    for extra in [other_arch, copy] {
        for priority in [500, 600] {
            let indices = [(a.as_str(), 500), (extra.as_str(), priority)];
            let tables = tables_of(&indices);
            let u = universe_of(&indices, &tables);
            assert!(u.listed_order().is_none());
            assert_eq!(u.cache_order(), universe_of(&indices, &[]).cache_order());
        }
    }
    // A copy that reads the same (a point release's version in -updates
    // too), kept or replacing the first: the names serve.
    let same = format!(
        "{}\n{b}",
        stanza("a", "Depends: b:any, c\nConflicts: z\nProvides: v, a")
    );
    for priority in [500, 600] {
        let indices = [(a.as_str(), 500), (same.as_str(), priority)];
        let tables = tables_of(&indices);
        let u = universe_of(&indices, &tables);
        assert!(u.listed_order().is_some());
        assert_eq!(u.cache_order(), universe_of(&indices, &[]).cache_order());
    }
    // Candidates added after the indices (local packages): read again.
    let local = stanza("l", "Depends: a");
    let mut u = universe_of(&indices, &tables);
    u.add_local(9, parse_all(&local).unwrap().remove(0));
    assert!(u.listed_order().is_none());
}

#[test]
fn apt_numbering_of_trixie_from_its_table() {
    let text = String::from_utf8(testkit::trixie_packages()).unwrap();
    let indices = [(text.as_str(), 500)];
    let tables = tables_of(&indices);
    let from_table = universe_of(&indices, &tables);
    assert!(from_table.listed_order().is_some());
    let parsed = universe_of(&indices, &[]);
    assert!(from_table.cache_order().len() > 60_000);
    assert_eq!(from_table.cache_order(), parsed.cache_order());
}
