//! Configuring unpacked packages as a fresh `dpkg --install` would, with
//! every command run inside the sandbox helper.
//!
//! dpkg installs a package in two halves: `preinst install`, unpack, then
//! (for the whole set) `dpkg --configure`, which runs each `postinst
//! configure` in dependency order, installs the staged conffiles and
//! processes triggers. Our unpack has laid out the files and the database
//! exactly as `dpkg --unpack` leaves them, minus the preinsts; so we run
//! each `preinst install` in pre-dependency order — base-passwd's creates
//! /etc/passwd and /etc/group, which later scripts need — the way dpkg
//! runs it: from `/var/lib/dpkg/tmp.ci/` holding the package's control
//! members (debconf reads the package name there), with dpkg's
//! `DPKG_MAINTSCRIPT_*` environment. Then the tree's own dpkg does the
//! rest with `dpkg --configure -a`: everything dpkg decides (order,
//! conffiles, triggers, alternatives) is decided by dpkg.
//!
//! A `policy-rc.d` that denies every action keeps services from starting
//! meanwhile; it is removed afterwards. Files that record the build
//! itself and not the system (dpkg's and update-alternatives' logs,
//! ldconfig's cache of file times) are removed, as mmdebstrap removes them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;

use crate::deb::{ControlFiles, DebError};
use crate::sandbox::{Chown, Owner, Request, Sandbox, SandboxError, Step, Users, PROTOCOL};
use crate::tree::Tree;

/// What the build leaves behind that mmdebstrap's trees do not have.
pub const BUILD_RECORDS: &[&str] = &[
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/cache/ldconfig/aux-cache",
];

const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";

/// Configuring failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error("control data")]
    Control(#[from] DebError),
    #[error("{path}: cannot write or remove it in the tree")]
    Tree {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// How to run the scripts.
#[derive(Debug, Clone)]
pub struct ConfigureOptions {
    /// Keep the network (off by default).
    pub network: bool,
    pub hostname: String,
    /// Who root is inside (default: [`crate::sandbox::users`]).
    pub users: Users,
    /// Owners to give before the scripts run (see
    /// [`crate::ownership::owners`]).
    pub owners: Vec<Owner>,
}

impl Default for ConfigureOptions {
    fn default() -> Self {
        ConfigureOptions {
            network: false,
            hostname: "localhost".into(),
            users: crate::sandbox::users(),
            owners: Vec::new(),
        }
    }
}

/// The environment every maintainer script gets.
pub fn environment() -> Vec<(String, String)> {
    [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("LC_ALL", "C.UTF-8"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("DEBCONF_NONINTERACTIVE_SEEN", "true"),
        ("HOME", "/root"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// Each package's index by its name and by the names it provides (a real
/// name wins over a provided one): how dependencies among the packages of
/// one build are followed.
pub(crate) fn name_index<'a>(
    pkgs: &[crate::packages::BinaryPackage<'a>],
) -> HashMap<&'a str, usize> {
    let mut by_name = HashMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        by_name.insert(p.name, i);
    }
    for (i, p) in pkgs.iter().enumerate() {
        for pr in p.provides().iter() {
            by_name.entry(pr.name).or_insert(i);
        }
    }
    by_name
}

/// The order to run the preinsts in: a package after those it
/// pre-depends on (then after those it depends on), ties by name; a cycle
/// is broken at the first name.
pub fn preinst_order(controls: &[ControlFiles]) -> Result<Vec<usize>, DebError> {
    let pkgs = controls
        .iter()
        .map(ControlFiles::package)
        .collect::<Result<Vec<_>, _>>()?;
    let by_name = name_index(&pkgs);
    let mut done = vec![false; pkgs.len()];
    let mut order = Vec::with_capacity(pkgs.len());
    let names: BTreeMap<&str, usize> = pkgs.iter().enumerate().map(|(i, p)| (p.name, i)).collect();
    // Depth-first: what a package needs first (pre-dependencies, then
    // dependencies), each in name order.
    fn visit(
        i: usize,
        pkgs: &[crate::packages::BinaryPackage<'_>],
        by_name: &HashMap<&str, usize>,
        done: &mut Vec<bool>,
        on_path: &mut Vec<bool>,
        order: &mut Vec<usize>,
    ) {
        if done[i] || on_path[i] {
            return;
        }
        on_path[i] = true;
        let p = &pkgs[i];
        for rels in [p.pre_depends(), p.depends()] {
            let mut needs: Vec<usize> = rels
                .groups()
                .filter_map(|g| g.iter().find_map(|r| by_name.get(r.name).copied()))
                .collect();
            needs.sort_by_key(|&j| pkgs[j].name);
            for j in needs {
                visit(j, pkgs, by_name, done, on_path, order);
            }
        }
        on_path[i] = false;
        done[i] = true;
        order.push(i);
    }
    let mut on_path = vec![false; pkgs.len()];
    for &i in names.values() {
        visit(i, &pkgs, &by_name, &mut done, &mut on_path, &mut order);
    }
    Ok(order)
}

/// Run the preinsts and `dpkg --configure -a` in the tree at `root`,
/// whose packages (`controls`) were unpacked by [`crate::build::unpack`].
/// The scripts' output goes to `log`. Returns the scripts' changes
/// of owner (see [`crate::sandbox::Sandbox::run`]).
pub fn configure(
    root: &Path,
    controls: &[ControlFiles],
    sandbox: &Sandbox,
    opts: &ConfigureOptions,
    log: Stdio,
) -> Result<Vec<Chown>, ConfigureError> {
    let tree = open_tree(root)?;
    let tree_err = |path: &str| {
        let path = path.to_owned();
        move |source| ConfigureError::Tree { path, source }
    };
    // Each preinst's control members, staged where dpkg would have them
    // while installing (moved into tmp.ci just before the script runs).
    let mut steps = Vec::new();
    let mut staged = Vec::new();
    for i in preinst_order(controls)? {
        let c = &controls[i];
        if c.script("preinst").is_none() {
            continue;
        }
        let p = c.package()?;
        let stage = format!("var/lib/dpkg/tmp.ci.rdebootstrap-{i}");
        for name in c.names() {
            let rel = format!("{stage}/{name}");
            let data = c.file(name).unwrap_or_default();
            tree.write_file(Path::new(&rel), data, c.mode(name).unwrap_or(0o644))
                .map_err(tree_err(&rel))?;
        }
        staged.push(stage.clone());
        steps.push(Step {
            label: format!("{} preinst", p.name),
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "rm -rf /var/lib/dpkg/tmp.ci && mv /{stage} /var/lib/dpkg/tmp.ci && \
                     /var/lib/dpkg/tmp.ci/preinst install; rc=$?; rm -rf /var/lib/dpkg/tmp.ci; exit $rc"
                ),
            ],
            env: vec![
                ("DPKG_MAINTSCRIPT_PACKAGE".into(), p.name.to_owned()),
                ("DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT".into(), "1".into()),
                ("DPKG_MAINTSCRIPT_ARCH".into(), p.architecture.to_owned()),
                ("DPKG_MAINTSCRIPT_NAME".into(), "preinst".into()),
                ("DPKG_ADMINDIR".into(), "/var/lib/dpkg".into()),
                ("DPKG_ROOT".into(), String::new()),
            ],
        });
    }
    steps.push(Step {
        label: "dpkg --configure -a".into(),
        argv: vec!["/usr/bin/dpkg".into(), "--configure".into(), "-a".into()],
        env: Vec::new(),
    });
    let ours = !tree.exists(Path::new(POLICY_RC_D));
    if ours {
        tree.write_file(Path::new(POLICY_RC_D), b"#!/bin/sh\nexit 101\n", 0o755)
            .map_err(tree_err(POLICY_RC_D))?;
    }
    let request = request(&tree, opts, opts.network, steps);
    let result = sandbox.run(&request, log);
    if ours {
        tree.remove_file(Path::new(POLICY_RC_D))
            .map_err(tree_err(POLICY_RC_D))?;
    }
    // What a failed run left staged.
    for stage in staged
        .iter()
        .map(String::as_str)
        .chain(["var/lib/dpkg/tmp.ci"])
    {
        tree.remove_dir_all(Path::new(stage))
            .map_err(tree_err(stage))?;
    }
    let chowns = result?;
    for f in BUILD_RECORDS {
        tree.remove_file(Path::new(f)).map_err(tree_err(f))?;
    }
    Ok(chowns)
}

/// Give `opts.owners` to the tree at `root` in the sandbox, running
/// nothing else (for a tree that is only unpacked).
pub fn give_owners(
    root: &Path,
    sandbox: &Sandbox,
    opts: &ConfigureOptions,
    log: Stdio,
) -> Result<(), ConfigureError> {
    if opts.owners.is_empty() {
        return Ok(());
    }
    let tree = open_tree(root)?;
    sandbox.run(&request(&tree, opts, false, Vec::new()), log)?;
    Ok(())
}

fn open_tree(root: &Path) -> Result<Tree, ConfigureError> {
    Tree::open(root).map_err(|source| ConfigureError::Tree {
        path: root.display().to_string(),
        source,
    })
}

/// The sandbox request for `steps` in `tree`.
fn request(tree: &Tree, opts: &ConfigureOptions, network: bool, steps: Vec<Step>) -> Request {
    Request {
        protocol: PROTOCOL,
        root: tree.path().to_owned(),
        network,
        hostname: opts.hostname.clone(),
        env: environment(),
        users: opts.users.clone(),
        owners: opts.owners.clone(),
        steps,
    }
}
