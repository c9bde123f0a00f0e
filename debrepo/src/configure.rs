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
//! rest: first `dpkg --configure --no-triggers` of the batches
//! [`configure_batches`] gives (the essential set, then what packages
//! pre-depend on, as mmdebstrap and apt configure them: the order decides
//! the ids of the system users and groups the scripts create), then
//! `dpkg --configure -a` for everything else, triggers included.
//! Everything dpkg decides (the order within a run, conffiles, triggers,
//! alternatives) is decided by dpkg.
//!
//! A build may run this in two parts ([`Part`]): the essential set's
//! preinsts and batch while only it is in the tree and the database (the
//! rest is unpacked meanwhile, where the scripts cannot see it), then the
//! rest's preinsts, the other batches and `dpkg --configure -a` once it
//! is added. The steps and their order are the same as in one part,
//! except that the rest's preinsts run after the essential set is
//! configured, as apt runs them after mmdebstrap's essential stage.
//!
//! A `policy-rc.d` that denies every action keeps services from starting
//! meanwhile; it is removed afterwards. Files that record the build
//! itself and not the system (dpkg's and update-alternatives' logs,
//! ldconfig's cache of file times) are removed, as mmdebstrap removes them.
//!
//! The scripts and dpkg run with their syncs suppressed
//! ([`Request::suppress_sync`]): dpkg's `fsync` of every database update
//! and conffile guards a live system against a crash mid-upgrade, while a
//! build that stops halfway leaves a tree marked unfinished and is run
//! again. The finished tree is as durable as the files the unpacker wrote,
//! which are not synced either (as `cp` syncs nothing); `sync` it when it
//! must survive a power loss. `rdebootstrap run` keeps the syncs.
//!
//! Before the sandbox starts, the tree's mount points ([`MOUNT_POINTS`])
//! are checked: the helper mounts its own `/dev`, `/proc`, `/sys`, `/tmp`
//! and `/run` there, so a package that ships one as a symlink (or as
//! anything but a directory) is refused by name, and a missing one is made
//! (as a tree without base-files has none).

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::Path;
use std::process::Stdio;

use crate::deb::{ControlFiles, DebError};
use crate::sandbox::{
    Chown, Executor, Output, Owner, Request, Sandbox, SandboxError, Step, StepEvent, Users,
    PROTOCOL, STATUS_FD,
};
use crate::tree::Tree;

pub use sandbox_protocol::Bind;

/// What the build leaves behind that records the build itself (its time,
/// its order) and not the system: removed by [`remove_build_records`], as
/// mmdebstrap's `cleanup/reproducible` removes them.
pub const BUILD_RECORDS: &[&str] = &[
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/log/apt/history.log",
    "var/log/apt/term.log",
    "var/log/apt/eipp.log.xz",
    "var/cache/ldconfig/aux-cache",
    "var/lib/dbus/machine-id",
];

/// Emptied by [`remove_build_records`] if the tree has it: an image's
/// machine id is made when it first boots (machine-id(5)).
pub const MACHINE_ID: &str = "etc/machine-id";

const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";

/// Where the sandbox mounts its own file systems, relative to the root.
pub const MOUNT_POINTS: &[&str] = &["dev", "proc", "sys", "tmp", "run"];

/// Configuring failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error("control data")]
    Control(#[from] DebError),
    #[error(transparent)]
    Emulation(#[from] crate::emulation::EmulationError),
    #[error("{path}: cannot write or remove it in the tree")]
    Tree {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{package}: ships {path} as a symbolic link to {target}; the sandbox mounts its own {path} there and refuses to follow links out of the tree")]
    MountPointLink {
        /// The package(s) whose dpkg file list has the path.
        package: String,
        path: String,
        target: String,
    },
    #[error("{package}: ships {path} as {kind}; the sandbox mounts its own {path} there and needs a directory")]
    MountPointNotDir {
        package: String,
        path: String,
        kind: &'static str,
    },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("the build-script of spec {} needs /bin/bash in the tree: add bash to the spec (rdebootstrap require -s {spec} bash)", crate::manifest::spec_label(spec))]
    NoBash { spec: String },
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
    /// Host paths bound into the tree ([`run`] only; the build's scripts
    /// get none).
    pub binds: Vec<Bind>,
    /// Added to (or replacing in) [`environment`]: the spec's `build-env`,
    /// for `dpkg --configure` and the build scripts.
    pub env: BTreeMap<String, String>,
}

impl Default for ConfigureOptions {
    fn default() -> Self {
        ConfigureOptions {
            network: false,
            hostname: "localhost".into(),
            users: crate::sandbox::users(),
            owners: Vec::new(),
            binds: Vec::new(),
            env: BTreeMap::new(),
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

/// The packages to configure explicitly before `dpkg --configure -a`, in
/// batches, as mmdebstrap and apt would configure them (indices into
/// `controls`). The order in which packages are configured decides which
/// system user and group ids their scripts get, so it follows theirs:
///
/// 1. The essential set first: the `Essential: yes` packages and what
///    they depend on (each alternative group followed to its first member
///    in the build), as mmdebstrap installs that set with one `dpkg
///    --install` before apt installs the rest. (When that is every
///    package, there is no batch: `dpkg --configure -a` does it all.)
/// 2. Then, as apt does when it unpacks a package with `Pre-Depends`: each
///    pre-depended package not configured yet is configured, after
///    everything it depends on, depth first in field order (apt's
///    `SmartConfigure`); one batch for each package's pre-dependencies,
///    as apt configures them with one dpkg call. apt unpacks in its
///    own order, which depends on its cache's internals; here the
///    packages are taken in [`preinst_order`] (what a package needs
///    first, ties by name), so batches that do not depend on each other
///    may come in another order than apt's.
/// 3. Everything else is left to `dpkg --configure -a`, in dpkg's own
///    order, as apt leaves it to `dpkg --configure --pending`.
pub fn configure_batches(controls: &[ControlFiles]) -> Result<Vec<Vec<usize>>, DebError> {
    let pkgs = controls
        .iter()
        .map(ControlFiles::package)
        .collect::<Result<Vec<_>, _>>()?;
    let by_name = name_index(&pkgs);
    let needs = |i: usize, pre_only: bool| -> Vec<usize> {
        let p = &pkgs[i];
        let fields = if pre_only {
            vec![p.pre_depends()]
        } else {
            vec![p.pre_depends(), p.depends()]
        };
        fields
            .into_iter()
            .flat_map(|rels| {
                rels.groups()
                    .filter_map(|g| g.iter().find_map(|r| by_name.get(r.name).copied()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let essential = essential_set(&pkgs);
    let order = preinst_order(controls)?;
    let mut batches = Vec::new();
    if essential.iter().all(|&e| e) {
        return Ok(batches);
    }
    let mut configured = essential.clone();
    let first: Vec<usize> = order.iter().copied().filter(|&i| essential[i]).collect();
    if !first.is_empty() {
        batches.push(first);
    }
    // Depth first through dependencies, a package after what it needs.
    fn close(
        i: usize,
        needs: &dyn Fn(usize, bool) -> Vec<usize>,
        configured: &mut Vec<bool>,
        on_path: &mut Vec<bool>,
        batch: &mut Vec<usize>,
    ) {
        if configured[i] || on_path[i] {
            return;
        }
        on_path[i] = true;
        for j in needs(i, false) {
            close(j, needs, configured, on_path, batch);
        }
        on_path[i] = false;
        configured[i] = true;
        batch.push(i);
    }
    let mut on_path = vec![false; pkgs.len()];
    for &i in &order {
        if configured[i] {
            continue;
        }
        let mut batch = Vec::new();
        for t in needs(i, true) {
            close(t, &needs, &mut configured, &mut on_path, &mut batch);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
    }
    Ok(batches)
}

/// Which packages form the essential set: the `Essential: yes` packages
/// and what they (pre-)depend on, each alternative group followed to its
/// first member in the build; the set mmdebstrap installs first.
pub fn essential_set(pkgs: &[crate::packages::BinaryPackage<'_>]) -> Vec<bool> {
    let by_name = name_index(pkgs);
    let mut essential = vec![false; pkgs.len()];
    let mut todo: Vec<usize> = (0..pkgs.len()).filter(|&i| pkgs[i].essential).collect();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut essential[i], true) {
            continue;
        }
        let p = &pkgs[i];
        for g in p.pre_depends().groups().chain(p.depends().groups()) {
            if let Some(j) = g.iter().find_map(|r| by_name.get(r.name).copied()) {
                if !essential[j] {
                    todo.push(j);
                }
            }
        }
    }
    essential
}

/// Which part of the configuration [`configure_part`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything: the preinsts, the batches, `dpkg --configure -a`.
    All,
    /// The essential set ([`essential_set`]) alone: its preinsts and its
    /// batch, with only it in the database (the rest is unpacked
    /// meanwhile).
    Essential,
    /// The rest, once added: its preinsts, the other batches,
    /// `dpkg --configure -a`.
    Rest,
}

/// How `dpkg` is told about package `i`: its name, with its architecture
/// when the build has the name for more than one.
fn dpkg_name(pkgs: &[crate::packages::BinaryPackage<'_>], i: usize) -> String {
    let p = &pkgs[i];
    if pkgs.iter().filter(|q| q.name == p.name).count() > 1 {
        format!("{}:{}", p.name, p.architecture)
    } else {
        p.name.to_owned()
    }
}

/// Run the preinsts and `dpkg --configure -a` in the tree at `root`,
/// whose packages (`controls`) were unpacked by [`crate::build::unpack`],
/// with `executor`. The scripts' output goes to `output`. Returns the scripts' changes
/// of owner (see [`crate::sandbox::Sandbox::run`]).
pub fn configure(
    root: &Path,
    controls: &[ControlFiles],
    executor: &dyn Executor,
    opts: &ConfigureOptions,
    output: Output,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Chown>, ConfigureError> {
    configure_part(root, controls, Part::All, executor, opts, output, progress)
}

/// [`configure`] in two parts: [`Part::Essential`] while the rest is
/// unpacked, then [`Part::Rest`]. `controls` are always every package's.
pub fn configure_part(
    root: &Path,
    controls: &[ControlFiles],
    part: Part,
    executor: &dyn Executor,
    opts: &ConfigureOptions,
    output: Output,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Chown>, ConfigureError> {
    let tree = open_tree(root)?;
    let pkgs = controls
        .iter()
        .map(ControlFiles::package)
        .collect::<Result<Vec<_>, _>>()?;
    let essential = essential_set(&pkgs);
    let in_part = |i: usize| match part {
        Part::All => true,
        Part::Essential => essential[i],
        Part::Rest => !essential[i],
    };
    mount_points(&tree)?;
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
        if c.script("preinst").is_none() || !in_part(i) {
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
            status_fd: false,
        });
    }
    // Triggers wait for the last run, as apt passes --no-triggers to all
    // but its final `dpkg --configure --pending`.
    // The essential set's batch is the first (there is none when every
    // package is essential).
    let batches = configure_batches(controls)?;
    let first = usize::from(batches.first().is_some_and(|b| essential[b[0]]));
    let batches = match part {
        Part::All => &batches[..],
        Part::Essential => &batches[..first],
        Part::Rest => &batches[first..],
    };
    for batch in batches {
        let names: Vec<String> = batch.iter().map(|&i| dpkg_name(&pkgs, i)).collect();
        let mut argv = vec![
            "/usr/bin/dpkg".to_owned(),
            "--status-fd".to_owned(),
            STATUS_FD.to_string(),
            "--configure".to_owned(),
            "--no-triggers".to_owned(),
        ];
        argv.extend(names.iter().cloned());
        steps.push(Step {
            label: format!("dpkg --configure {}", names.join(" ")),
            argv,
            env: Vec::new(),
            status_fd: true,
        });
    }
    if part != Part::Essential {
        steps.push(Step {
            label: "dpkg --configure -a".into(),
            argv: vec![
                "/usr/bin/dpkg".into(),
                "--status-fd".into(),
                STATUS_FD.to_string(),
                "--configure".into(),
                "-a".into(),
            ],
            env: Vec::new(),
            status_fd: true,
        });
    }
    let request = request(&tree, opts, opts.network, steps);
    // Each package's configuration and trigger processing inside the dpkg
    // runs, timed from dpkg's status lines.
    let mut times = DpkgTimes::default();
    let (removed, result) = with_policy_rc_d(&tree, || {
        executor.run_steps(&request, output, &mut |event| {
            let stage = crate::progress::Stage::Configure;
            match event {
                StepEvent::Status { after, line, .. } => {
                    if let Some((what, took)) = times.line(after, line) {
                        progress.stage_item(stage, &what, took);
                    }
                }
                StepEvent::Ended { index, took } => {
                    if let Some((what, took)) = times.end() {
                        progress.stage_item(stage, &what, took);
                    }
                    if let Some(step) = request.steps.get(index) {
                        progress.stage_item(stage, &step.label, took);
                    }
                }
            }
        })
    });
    // What a failed run left staged.
    for stage in staged
        .iter()
        .map(String::as_str)
        .chain(["var/lib/dpkg/tmp.ci"])
    {
        tree.remove_dir_all(Path::new(stage))
            .map_err(tree_err(stage))?;
    }
    // The scripts' error first: it says more than a cleanup's.
    let chowns = match result {
        Some(r) => r?,
        None => return removed.map(|()| Vec::new()),
    };
    removed?;
    Ok(chowns)
}

/// Per-package times inside a dpkg run, from the lines of its
/// `--status-fd`: a package's configuration (its postinst, its conffiles)
/// or trigger processing runs from its `processing: STAGE: PACKAGE` line
/// to the status line that ends it (`installed`, `triggers-pending`,
/// `triggers-awaited`), or else (a failure) to the next `processing:`
/// line or the run's last line.
#[derive(Debug, Default)]
struct DpkgTimes {
    /// What runs now ("configure tzdata"), its package, and since when.
    open: Option<(String, String, std::time::Duration)>,
    /// When the last line came.
    last: std::time::Duration,
}

impl DpkgTimes {
    /// Take one status line, `after` the run started; returns what it
    /// ended, with its time.
    fn line(
        &mut self,
        after: std::time::Duration,
        line: &str,
    ) -> Option<(String, std::time::Duration)> {
        self.last = after;
        if let Some(rest) = line.strip_prefix("processing: ") {
            // "processing: STAGE: PACKAGE" (anything after the package,
            // such as a version, is left out).
            let mut parts = rest.split(": ");
            let (stage, package) = (parts.next()?, parts.next()?);
            let ended = self.close(after);
            self.open = Some((format!("{stage} {package}"), package.to_owned(), after));
            return ended;
        }
        let rest = line.strip_prefix("status: ")?;
        let (package, state) = rest.rsplit_once(": ")?;
        // (half-configured comes before the postinst runs.)
        let ends = matches!(state, "installed" | "triggers-pending" | "triggers-awaited");
        // dpkg names a package with its architecture in one line and
        // without it in another: compare the names.
        let name = |p: &str| p.split(':').next().unwrap_or(p).to_owned();
        match &self.open {
            Some((_, open, _)) if ends && name(open) == name(package) => self.close(after),
            _ => None,
        }
    }

    /// The run ended: what was still open ends at its last line.
    fn end(&mut self) -> Option<(String, std::time::Duration)> {
        let ended = self.close(self.last);
        self.last = std::time::Duration::ZERO;
        ended
    }

    fn close(&mut self, at: std::time::Duration) -> Option<(String, std::time::Duration)> {
        let (what, _, since) = self.open.take()?;
        Some((what, at.saturating_sub(since)))
    }
}

/// Remove [`BUILD_RECORDS`] from the tree at `root` and leave
/// [`MACHINE_ID`], if there, as an empty file (root's, 0644), as mmdebstrap
/// does: what the scripts wrote there is this build's, not the system's.
pub fn remove_build_records(root: &Path) -> Result<(), ConfigureError> {
    let tree = open_tree(root)?;
    let tree_err = |path: &str| {
        let path = path.to_owned();
        move |source| ConfigureError::Tree { path, source }
    };
    for f in BUILD_RECORDS {
        tree.remove_file(Path::new(f)).map_err(tree_err(f))?;
    }
    if tree.exists(Path::new(MACHINE_ID)) {
        tree.write_file(Path::new(MACHINE_ID), b"", 0o644)
            .map_err(tree_err(MACHINE_ID))?;
    }
    Ok(())
}

/// Run the specs' build scripts (`(spec, script)`, in the order they
/// run, see [`crate::manifest::ResolvedSpec::build_scripts`]) with bash in
/// the configured tree at `root`, in the sandbox, with the spec's
/// `build-env` (`opts.env`) and services kept from starting (a
/// `policy-rc.d` that says no, as while configuring); the first failing
/// script stops the rest. Their output goes to `output`. Returns their
/// changes of owner.
pub fn build_scripts(
    root: &Path,
    scripts: &[(String, String)],
    executor: &dyn Executor,
    opts: &ConfigureOptions,
    output: Output,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<Chown>, ConfigureError> {
    if scripts.is_empty() {
        return Ok(Vec::new());
    }
    let tree = open_tree(root)?;
    if !tree.exists(Path::new("bin/bash")) && !tree.exists(Path::new("usr/bin/bash")) {
        return Err(ConfigureError::NoBash {
            spec: scripts[0].0.clone(),
        });
    }
    mount_points(&tree)?;
    let steps = scripts
        .iter()
        .map(|(spec, script)| Step {
            label: format!(
                "the build-script of spec {}",
                crate::manifest::spec_label(spec)
            ),
            argv: vec![
                "/bin/bash".into(),
                "-c".into(),
                script.clone(),
                "build-script".into(),
            ],
            env: Vec::new(),
            status_fd: false,
        })
        .collect();
    let request = request(&tree, opts, opts.network, steps);
    let (removed, result) = with_policy_rc_d(&tree, || {
        executor.run_steps(&request, output, &mut |event| {
            if let StepEvent::Ended { index, took } = event {
                if let Some(step) = request.steps.get(index) {
                    progress.stage_item(crate::progress::Stage::Scripts, &step.label, took);
                }
            }
        })
    });
    let chowns = match result {
        Some(r) => r?,
        None => return removed.map(|()| Vec::new()),
    };
    removed?;
    Ok(chowns)
}

/// Run `f` with a `policy-rc.d` in the tree that keeps services from
/// starting (unless the tree has its own), removed afterwards unless a
/// script replaced it with its own (an image that keeps one). Returns
/// `f`'s result, and whether removing ours failed (after `f`'s result,
/// whose error matters more).
fn with_policy_rc_d<T>(
    tree: &Tree,
    f: impl FnOnce() -> T,
) -> (Result<(), ConfigureError>, Option<T>) {
    const OURS: &[u8] = b"#!/bin/sh\nexit 101\n";
    let tree_err = |source| ConfigureError::Tree {
        path: format!("/{POLICY_RC_D}"),
        source,
    };
    let ours = !tree.exists(Path::new(POLICY_RC_D));
    if ours {
        if let Err(e) = tree.write_file(Path::new(POLICY_RC_D), OURS, 0o755) {
            return (Err(tree_err(e)), None);
        }
    }
    let out = f();
    let mut removed = Ok(());
    if ours
        && tree
            .read(Path::new(POLICY_RC_D), 4096)
            .is_ok_and(|b| b == OURS)
    {
        removed = tree.remove_file(Path::new(POLICY_RC_D)).map_err(tree_err);
    }
    (removed, Some(out))
}

/// Give `opts.owners` to the tree at `root` in the sandbox, running
/// nothing else (for a tree that is only unpacked).
pub fn give_owners(
    root: &Path,
    executor: &dyn Executor,
    opts: &ConfigureOptions,
    output: Output,
) -> Result<(), ConfigureError> {
    if opts.owners.is_empty() {
        return Ok(());
    }
    let tree = open_tree(root)?;
    mount_points(&tree)?;
    executor.run_steps(
        &request(&tree, opts, false, Vec::new()),
        output,
        &mut |_| {},
    )?;
    Ok(())
}

/// Run `argv` (the program as a path inside the tree, or a name looked up
/// on the sandbox's `PATH`) in the built tree at `root`, in the same
/// sandbox as the maintainer scripts (as root or rootless, network only
/// with `opts.network`, `opts.binds` bound in), attached to `stdin` and
/// `stdout` (its standard error is this process's): for `rdebootstrap
/// run`. Returns its exit status (128 + the signal when it
/// was killed). With [`Users::Single`], the owners it gave are added to
/// the tree's ownership file, as a build's scripts' are.
pub fn run(
    root: &Path,
    sandbox: &Sandbox,
    opts: &ConfigureOptions,
    argv: Vec<String>,
    stdin: std::os::fd::OwnedFd,
    stdout: std::os::fd::OwnedFd,
) -> Result<i32, ConfigureError> {
    let tree = open_tree(root)?;
    mount_points(&tree)?;
    // A tree of another architecture: its programs must be runnable here.
    // dpkg records the tree's own in `arch-native` (newer dpkg), else
    // first in `arch`, as the database writer puts it.
    let native = ["var/lib/dpkg/arch-native", "var/lib/dpkg/arch"]
        .iter()
        .find_map(|f| std::fs::read_to_string(root.join(f)).ok())
        .and_then(|t| t.lines().next().map(str::to_owned))
        .filter(|a| !a.is_empty());
    if let Some(native) = native {
        crate::emulation::check(&native)?;
    }
    let step = Step {
        label: argv.join(" "),
        argv,
        env: Vec::new(),
        status_fd: false,
    };
    let mut request = request(&tree, opts, opts.network, vec![step]);
    request.binds = opts.binds.clone();
    // The user's command may write what must reach the disk.
    request.suppress_sync = false;
    let (chowns, outcome) = sandbox.run_attached(&request, stdin, stdout, Stdio::inherit())?;
    let status = match outcome {
        Ok(()) => 0,
        Err(SandboxError::Step { status, .. }) => status,
        Err(e) => return Err(e.into()),
    };
    if !chowns.is_empty() {
        let file = |source| ConfigureError::Tree {
            path: format!("/{}", crate::ownership::FILE),
            source,
        };
        let existing = crate::ownership::read(root).map_err(|e| file(std::io::Error::other(e)))?;
        let entries = crate::ownership::with_chowns(&tree, existing, &chowns);
        crate::ownership::write(&tree, &entries).map_err(file)?;
    }
    Ok(status)
}

/// Check the tree's [`MOUNT_POINTS`] before the sandbox mounts on them:
/// each must be a directory, never a symlink (the helper would mount
/// through it, out of the tree); a missing one is made, mode 0755 (`tmp`
/// 1777, as base-files ships it), never through a link.
pub fn mount_points(tree: &Tree) -> Result<(), ConfigureError> {
    use rustix::fs::FileType;
    for name in MOUNT_POINTS {
        let rel = Path::new(name);
        let path = format!("/{name}");
        let st = match tree.lstat(rel) {
            Ok(st) => st,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                make_mount_point(tree, name).map_err(|source| ConfigureError::Tree {
                    path: path.clone(),
                    source,
                })?;
                continue;
            }
            Err(source) => return Err(ConfigureError::Tree { path, source }),
        };
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::Directory {
            continue;
        }
        let package = shipped_by(tree, &path);
        return Err(if kind == FileType::Symlink {
            let target = tree
                .open_path(Path::new(""), true)
                .and_then(|root| rustix::fs::readlinkat(&root, *name, Vec::new()))
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "(unreadable)".into());
            ConfigureError::MountPointLink {
                package,
                path,
                target,
            }
        } else {
            ConfigureError::MountPointNotDir {
                package,
                path,
                kind: match kind {
                    FileType::RegularFile => "a regular file",
                    FileType::CharacterDevice => "a character device",
                    FileType::BlockDevice => "a block device",
                    FileType::Fifo => "a fifo",
                    FileType::Socket => "a socket",
                    _ => "something other than a directory",
                },
            }
        });
    }
    Ok(())
}

/// `mkdir` in the root itself: a link planted meanwhile makes it fail
/// (`EEXIST`), never followed.
fn make_mount_point(tree: &Tree, name: &str) -> std::io::Result<()> {
    let root = tree.open_path(Path::new(""), true)?;
    let mode = rustix::fs::Mode::from_bits_truncate(if name == "tmp" { 0o1777 } else { 0o755 });
    rustix::fs::mkdirat(&root, name, mode)?;
    // Past the umask.
    rustix::fs::chmodat(&root, name, mode, rustix::fs::AtFlags::empty())?;
    Ok(())
}

/// The packages whose dpkg file list (`var/lib/dpkg/info/*.list`) has
/// `path`, as `dpkg -S` would name them. The unpacker lists a path that
/// one package ships as a link and another as a directory only for the
/// former, so this names the package that shipped the link.
fn shipped_by(tree: &Tree, path: &str) -> String {
    let mut found = Vec::new();
    let info = Path::new("var/lib/dpkg/info");
    if let Ok(dir) = tree.open_path(info, true) {
        let proc_dir =
            Path::new("/proc/self/fd").join(std::os::fd::AsRawFd::as_raw_fd(&dir).to_string());
        for entry in std::fs::read_dir(proc_dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(package) = name.strip_suffix(".list") else {
                continue;
            };
            let Ok(fd) = rustix::fs::openat(
                &dir,
                name.as_str(),
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) else {
                continue;
            };
            let mut list = String::new();
            if std::fs::File::from(fd).read_to_string(&mut list).is_ok()
                && list.lines().any(|l| l == path)
            {
                found.push(package.to_owned());
            }
        }
    }
    found.sort();
    if found.is_empty() {
        "the tree (no package lists it)".into()
    } else {
        found.join(", ")
    }
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
        env: environment()
            .into_iter()
            .filter(|(k, _)| !opts.env.contains_key(k))
            .chain(opts.env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect(),
        users: opts.users.clone(),
        owners: opts.owners.clone(),
        steps,
        binds: Vec::new(),
        stdio: false,
        // dpkg syncs every database update and conffile; a build's tree
        // is discarded when the build fails, and is as durable as a copy
        // by cp once written (see the module docs). `run` keeps syncs.
        suppress_sync: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tree_with(lists: &[(&str, &str)]) -> testkit::TempDir {
        let t = testkit::TempDir::new("mount-points");
        let info = t.path().join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        for (name, list) in lists {
            std::fs::write(info.join(format!("{name}.list")), list).unwrap();
        }
        t
    }

    fn control(fields: &str) -> ControlFiles {
        let text = format!("{fields}Version: 1\nArchitecture: amd64\n");
        ControlFiles::new(
            "control.tar".into(),
            [("control".to_owned(), (0o644, text.into_bytes()))].into(),
        )
    }

    fn names(controls: &[ControlFiles], batches: &[Vec<usize>]) -> Vec<String> {
        batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|&i| controls[i].package().unwrap().name.to_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn batches_follow_mmdebstrap_and_apt() {
        let controls = [
            control("Package: libc6\n"),
            control("Package: base-files\nEssential: yes\nDepends: libc6\n"),
            control("Package: adduser\nDepends: passwd\n"),
            control("Package: passwd\nDepends: libc6, libsemanage2\n"),
            control("Package: libsemanage2\n"),
            // Pre-depends on cron-daemon-common, which needs a provider
            // of a virtual (the first alternative present) and adduser.
            control("Package: cron\nPre-Depends: cron-daemon-common\n"),
            control("Package: cron-daemon-common\nDepends: systemd | systemd-sysusers, adduser\n"),
            control("Package: systemd\nDepends: mount\n"),
            control("Package: mount\n"),
            control("Package: dbus\nDepends: libc6\n"),
            control("Package: e2fsprogs\nPre-Depends: libss2, libcom-err2\n"),
            control("Package: libss2\nDepends: libcom-err2\n"),
            control("Package: libcom-err2\n"),
        ];
        let batches = configure_batches(&controls).unwrap();
        assert_eq!(
            names(&controls, &batches),
            [
                "libc6 base-files",
                "mount systemd libsemanage2 passwd adduser cron-daemon-common",
                "libcom-err2 libss2",
            ]
        );
        // Every package is essential: dpkg --configure -a does it all.
        let all = [
            control("Package: a\nEssential: yes\nPre-Depends: b\n"),
            control("Package: b\n"),
        ];
        assert!(configure_batches(&all).unwrap().is_empty());
    }

    #[test]
    fn missing_mount_points_are_made() {
        let t = tree_with(&[]);
        std::fs::create_dir(t.path().join("proc")).unwrap();
        mount_points(&Tree::open(t.path()).unwrap()).unwrap();
        for (name, mode) in [
            ("dev", 0o755),
            ("sys", 0o755),
            ("run", 0o755),
            ("tmp", 0o1777),
        ] {
            let meta = std::fs::symlink_metadata(t.path().join(name)).unwrap();
            assert!(meta.is_dir(), "{name}");
            assert_eq!(meta.permissions().mode() & 0o7777, mode, "{name}");
        }
    }

    #[test]
    fn a_linked_mount_point_is_refused_naming_its_package() {
        let victim = testkit::TempDir::new("mount-points-victim");
        let t = tree_with(&[
            ("aaa-evil", "/.\n/dev\n"),
            ("base-files", "/.\n/etc\n/proc\n/sys\n"),
        ]);
        symlink(victim.path(), t.path().join("dev")).unwrap();
        let err = mount_points(&Tree::open(t.path()).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "aaa-evil: ships /dev as a symbolic link to {}; the sandbox mounts its own /dev there and refuses to follow links out of the tree",
                victim.path().display()
            )
        );
        assert!(matches!(
            &err,
            ConfigureError::MountPointLink { package, path, .. } if package == "aaa-evil" && path == "/dev"
        ));
        assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0);
        // A dangling link is not "missing": nothing is made through it.
        std::fs::remove_file(t.path().join("dev")).unwrap();
        symlink(victim.path().join("new"), t.path().join("dev")).unwrap();
        assert!(mount_points(&Tree::open(t.path()).unwrap()).is_err());
        assert!(!victim.path().join("new").exists());
    }

    #[test]
    fn a_file_mount_point_is_refused() {
        let t = tree_with(&[("odd:amd64", "/.\n/run\n")]);
        std::fs::write(t.path().join("run"), "").unwrap();
        let tree = Tree::open(t.path()).unwrap();
        assert_eq!(
            mount_points(&tree).unwrap_err().to_string(),
            "odd:amd64: ships /run as a regular file; the sandbox mounts its own /run there and needs a directory"
        );
        // Unlisted: the tree is named instead.
        std::fs::remove_file(t.path().join("var/lib/dpkg/info/odd:amd64.list")).unwrap();
        assert!(mount_points(&tree)
            .unwrap_err()
            .to_string()
            .starts_with("the tree (no package lists it): ships /run as a regular file"));
    }

    #[test]
    fn dpkg_status_lines_time_each_package() {
        let ms = std::time::Duration::from_millis;
        let mut t = DpkgTimes::default();
        let mut got = Vec::new();
        for (at, line) in [
            (10, "processing: configure: libc6:amd64"),
            (11, "status: libc6:amd64: half-configured"),
            (90, "status: libc6:amd64: installed"),
            (95, "processing: configure: man-db"),
            (96, "status: man-db: half-configured"),
            (300, "status: man-db: triggers-awaited"),
            (310, "processing: trigproc: libc-bin:amd64"),
            (320, "status: libc-bin:amd64: half-configured"),
            // Another package's line does not end it.
            (330, "status: bash: installed"),
            // (A version after the name is left out.)
            (400, "processing: configure: broken: 1"),
            (410, "status: broken: half-configured"),
            (
                900,
                "status: broken : error : subprocess returned error exit status 1",
            ),
        ] {
            got.extend(t.line(ms(at), line));
        }
        got.extend(t.end());
        assert_eq!(
            got,
            [
                ("configure libc6:amd64".to_owned(), ms(80)),
                ("configure man-db".to_owned(), ms(205)),
                ("trigproc libc-bin:amd64".to_owned(), ms(90)),
                ("configure broken".to_owned(), ms(500)),
            ]
        );
        // Nothing open: nothing ends.
        assert_eq!(t.end(), None);
        assert_eq!(t.line(ms(1), "status: x: installed"), None);
    }
}
