//! Verbs that write the manifest: `init`, `require`, `forbid`, `remove`
//! (alias `drop`) and `archive add` (the others are in `editmore`). Edits
//! keep comments and layout, are checked before anything is written, and
//! are written atomically.

use std::path::Path;

use anyhow::{bail, Context, Result};
use debrepo::manifest::edit::{self, NewArchive};
use debrepo::manifest::{requirement_name, Manifest, Variant};

use crate::Global;

#[derive(clap::Args)]
pub struct InitArgs {
    /// A vendor preset: debian, ubuntu or devuan (its keyring, components
    /// and the -updates and -security suites; devuan needs --signed-by, as
    /// no Devuan keyring ships with rdebootstrap).
    vendor: Option<String>,
    /// Suite (preset default: debian trixie, ubuntu noble, devuan
    /// excalibur); with --url a comma-separated list.
    #[arg(long)]
    suite: Option<String>,
    /// Archive URL (default for presets: the vendor's mirror, found at update
    /// time from --mirror, RDEBOOTSTRAP_MIRROR_VENDOR or the host's APT sources).
    #[arg(long)]
    url: Option<String>,
    /// Components, comma-separated (preset default: debian main, ubuntu main,universe).
    #[arg(long)]
    components: Option<String>,
    /// Keyring file trusted for --url archives.
    #[arg(long, value_name = "KEYRING")]
    signed_by: Option<String>,
    /// Fetch the unsigned Release file (for unsigned archives).
    #[arg(short = 'K', long)]
    allow_insecure: bool,
    /// Check the --url archive without checking its signature (not
    /// recommended; update then needs --no-verify too).
    #[arg(long, requires = "url", conflicts_with = "allow_insecure")]
    no_verify: bool,
    /// A package to include (repeatable).
    #[arg(short, long = "package")]
    packages: Vec<String>,
    /// custom, essential, required, minbase, buildd, important or standard
    /// (default: minbase; with --import, what the imported specs have).
    #[arg(long)]
    variant: Option<String>,
    /// Build on another locked manifest instead of archives: a path to it
    /// (recorded relative to the new manifest's folder); `[spec]` extends
    /// the --spec specs it exports; or a file:///PATH URL, or a git URL
    /// (git+https://, git+http://, git+ssh://, git+file:// with ?rev=REV
    /// or ?ref=BRANCH-OR-TAG and #PATH-IN-REPO).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["vendor", "url", "suite", "components", "signed_by", "allow_insecure", "no_verify"])]
    import: Option<String>,
    /// With --import: a spec of the imported manifest to export and extend
    /// (repeatable).
    #[arg(long = "spec", requires = "import")]
    specs: Vec<String>,
}

#[derive(clap::Args)]
pub struct SpecItems {
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// Packages, in relation syntax: NAME, 'NAME (>= VERSION)', ...
    #[arg(required = true)]
    items: Vec<String>,
}

#[derive(clap::Subcommand)]
pub enum ArchiveCmd {
    /// Append an [[archive]].
    Add {
        /// Archive URL.
        url: String,
        /// Suites, comma-separated ('/' for a flat repository).
        #[arg(long)]
        suite: String,
        /// Components, comma-separated (default: main; none for a flat
        /// repository).
        #[arg(long)]
        components: Option<String>,
        /// Keyring file trusted for this archive.
        #[arg(long, value_name = "KEYRING")]
        signed_by: Option<String>,
        /// Fetch the unsigned Release file.
        #[arg(short = 'K', long)]
        allow_insecure: bool,
        /// Check the archive without checking its signature (not
        /// recommended; update then needs --no-verify too).
        #[arg(long, conflicts_with = "allow_insecure")]
        no_verify: bool,
    },
    /// Remove the [[archive]] entries with this URL (or this mirror, a
    /// vendor name such as debian-security).
    Remove {
        /// The archive's URL (a trailing / does not matter) or mirror name.
        url: String,
    },
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn write(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("toml.tmp.{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {} (create one with 'rdebootstrap init')",
            path.display()
        )
    })
}

pub fn init(args: InitArgs, global: &Global) -> Result<()> {
    let path = &global.manifest;
    if path.exists() {
        bail!(
            "{} exists already: edit it, or remove it to start over",
            path.display()
        );
    }
    let variant = match &args.variant {
        Some(v) => Some(Variant::from_name(v).with_context(|| {
            format!("unknown variant '{v}' (use custom, essential, required, minbase, buildd, important or standard)")
        })?),
        None => None,
    };
    if let Some(source) = &args.import {
        if args.specs.is_empty() {
            bail!("init --import needs at least one --spec: the imported spec(s) the new [spec] extends");
        }
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let pinned = crate::editmore::pin_import(source, &args.specs, global, &dir)?;
        use debrepo::manifest::edit::ImportedFrom;
        use debrepo::manifest::import::Pinned;
        let text = match &pinned {
            Pinned::Path { path: source, hash } => {
                let rel = crate::editmore::manifest_relative(path, source)?;
                edit::new_import_manifest(
                    path,
                    ImportedFrom::Path(&rel),
                    hash,
                    &args.specs,
                    variant,
                    &args.packages,
                )?
            }
            Pinned::Git { pin, hash } => edit::new_import_manifest(
                path,
                ImportedFrom::Git(pin),
                hash,
                &args.specs,
                variant,
                &args.packages,
            )?,
        };
        write(path, &text)?;
        if !global.quiet {
            eprintln!("wrote {}; next: rdebootstrap update", path.display());
        }
        return Ok(());
    }
    let variant = variant.unwrap_or(Variant::Minbase);
    // The keyring file init wrote, removed again if the check fails.
    let mut written_keyring: Option<std::path::PathBuf> = None;
    let archives = match args.vendor.as_deref() {
        Some(v @ ("debian" | "ubuntu" | "devuan")) => {
            if v == "devuan" && args.signed_by.is_none() {
                bail!("no Devuan archive keyring ships with rdebootstrap (Debian has no devuan-keyring package to take it from): pass --signed-by KEYRING, such as devuan-archive-keyring.gpg from Devuan's devuan-keyring package");
            }
            let suite = args.suite.clone().unwrap_or_else(|| match v {
                "debian" => "trixie",
                "ubuntu" => "noble",
                _ => "excalibur",
            }.into());
            let components = args
                .components
                .as_deref()
                .map(list)
                .unwrap_or_else(|| if v == "debian" { vec!["main".into()] } else { vec!["main".into(), "universe".into()] });
            // The manifest names the mirror by vendor, found at update
            // time (the error there names the flag and the variable).
            let (url, mirror) = match &args.url {
                Some(u) => (Some(u.clone()), None),
                None => (None, Some(v.to_owned())),
            };
            // A preset carries its keyring: with --url, the shipped one is
            // written beside the manifest and named by signed-by.
            let signed_by = match (&args.signed_by, &url) {
                (None, Some(_)) => {
                    let (name, made) = write_vendor_keyring(path, v.parse()?)?;
                    written_keyring = made;
                    Some(name)
                }
                (s, _) => s.clone(),
            };
            let mut main = NewArchive {
                url: url.clone(),
                mirror: mirror.clone(),
                suites: vec![suite.clone(), format!("{suite}-updates")],
                components: components.clone(),
                signed_by: signed_by.clone(),
                allow_insecure: args.allow_insecure,
            };
            if v == "debian" {
                // Debian's security suite lives in a separate archive.
                let security = NewArchive {
                    url: url.as_ref().map(|u| format!("{}-security", u.trim_end_matches('/'))),
                    mirror: mirror.map(|m| format!("{m}-security")),
                    suites: vec![format!("{suite}-security")],
                    components,
                    signed_by,
                    allow_insecure: args.allow_insecure,
                };
                vec![main, security]
            } else {
                // Ubuntu and Devuan serve -security from the same archive.
                main.suites.push(format!("{suite}-security"));
                vec![main]
            }
        }
        Some(other) => bail!(
            "no preset for vendor '{other}' (presets: debian, ubuntu, devuan); for another archive use --url URL --suite SUITE --signed-by KEYRING"
        ),
        None => {
            let (Some(url), Some(suite)) = (&args.url, &args.suite) else {
                bail!("give a vendor (debian, ubuntu, devuan) or --url URL --suite SUITE");
            };
            let suites = list(suite);
            let flat = suites.iter().all(|s| s.ends_with('/'));
            vec![NewArchive {
                url: Some(url.clone()),
                mirror: None,
                suites,
                components: match &args.components {
                    Some(c) => list(c),
                    None if flat => Vec::new(),
                    None => vec!["main".into()],
                },
                signed_by: args.signed_by.clone(),
                allow_insecure: args.allow_insecure,
            }]
        }
    };
    let text = edit::new_manifest(path, &archives, variant, &args.packages)?;
    if args.url.is_some() {
        // A preset's archive is checked at the suite the user named (or
        // its default): the -updates and -security suites and the
        // security archive beside it come from the preset, and a partial
        // mirror may lack them until update.
        let main_only = args.vendor.is_some();
        if let Err(e) = check_new_archives(&text, path, 0, main_only, args.no_verify, global) {
            if let Some(k) = &written_keyring {
                let _ = std::fs::remove_file(k);
            }
            return Err(e);
        }
    }
    write(path, &text)?;
    if !global.quiet {
        eprintln!("wrote {}; next: rdebootstrap update", path.display());
        // Vendor archives this host cannot resolve yet: say what update
        // will need.
        let vendors: Vec<String> = archives.iter().filter_map(|a| a.mirror.clone()).collect();
        let host = debrepo::aptsources::read_host(Path::new("/etc/apt")).unwrap_or_default();
        let found = debrepo::mirror::resolve(&vendors, &[], &|n| std::env::var(n).ok(), &host);
        for v in vendors.iter().filter(|v| !found.contains_key(*v)) {
            eprintln!(
                "note: no {v} mirror in the host's APT sources: give update --mirror {v}=URL or set {}",
                debrepo::mirror::env_var(v)
            );
        }
    }
    Ok(())
}

/// Check the archives an edit adds (those from index `first` of the
/// manifest `text`, all with URLs) before the edit is written, as update
/// will: each suite's release file is fetched and its signature checked
/// (unless `no_verify`), and its components and indices must be there. A
/// mistyped suite or a wrong key fails now, naming the URL; an archive that
/// cannot be reached now (offline, a host not up yet) is written with a
/// warning, since only update needs it.
fn check_new_archives(
    text: &str,
    path: &Path,
    first: usize,
    main_only: bool,
    no_verify: bool,
    global: &Global,
) -> Result<()> {
    use debrepo::archive::UpdateError;
    use debrepo::transport::FetchError;
    let mut added = Manifest::parse(text, path)?;
    added.archives.drain(..first);
    if main_only {
        added.archives.truncate(1);
        if let Some(a) = added.archives.first_mut() {
            a.suites.truncate(1);
        }
    }
    match crate::lockcmd::fetch_checked(&added, global, no_verify)? {
        Ok(fetched) => {
            if !global.quiet {
                for f in &fetched {
                    let signer = match &f.fetched.signer {
                        Some(v) => format!("signed by {}", v.signer),
                        None if no_verify => "signature not checked (--no-verify)".into(),
                        None => "unsigned (allow-insecure)".into(),
                    };
                    let url = &added.archives[f.decl].url.as_deref().unwrap_or_default();
                    eprintln!("checked {url} suite {}: {signer}", f.suite);
                }
            }
            Ok(())
        }
        Err(debrepo::update::Error::Fetch(UpdateError::Fetch(e @ FetchError::Network { .. }))) => {
            if !global.quiet {
                eprintln!(
                    "warning: cannot check the archive now: {}; writing it anyway (update will need it)",
                    std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(": ")
                );
            }
            Ok(())
        }
        Err(debrepo::update::Error::NoKeys { url, .. }) => bail!(
            "no key to verify {url}: pass --signed-by KEYRING (or, not recommended, --no-verify, or -K for an unsigned archive)"
        ),
        Err(debrepo::update::Error::Keyring { source, .. }) => {
            Err(anyhow::Error::new(source).context("--signed-by: the keyring is not usable"))
        }
        Err(debrepo::update::Error::Fetch(e @ UpdateError::Verify { .. })) => Err(anyhow::Error::new(e)
            .context("the archive's signature does not check: give the right key with --signed-by KEYRING (or --no-verify, not recommended)")),
        Err(e) => Err(e.into()),
    }
}

/// Write `vendor`'s shipped keyring beside the manifest at `manifest`
/// (kept if it is there with the same content); its name for signed-by,
/// and the file when this wrote it.
fn write_vendor_keyring(
    manifest: &Path,
    vendor: debrepo::vendor::Vendor,
) -> Result<(String, Option<std::path::PathBuf>)> {
    let name = vendor.keyring_file_name();
    let dir = manifest.parent().filter(|d| !d.as_os_str().is_empty());
    let file = dir.map_or_else(|| Path::new(name).to_owned(), |d| d.join(name));
    match std::fs::read(&file) {
        Ok(have) if have == vendor.keyring_bytes() => Ok((name.to_owned(), None)),
        Ok(_) => bail!(
            "{} exists and is not the keyring rdebootstrap ships for {}: remove it, or pass --signed-by KEYRING",
            file.display(),
            vendor.name()
        ),
        Err(_) => {
            std::fs::write(&file, vendor.keyring_bytes())
                .with_context(|| format!("cannot write {}", file.display()))?;
            Ok((name.to_owned(), Some(file)))
        }
    }
}

/// The spec's table as written in the manifest: `[spec]`, `[spec.NAME]`.
fn table(spec: &str) -> String {
    if spec.is_empty() {
        "[spec]".to_owned()
    } else {
        format!("[spec.{spec}]")
    }
}

/// What an edit did, said on standard error (unless `-q`), cargo-style.
pub(crate) fn say(global: &Global, lines: &[String]) {
    if !global.quiet {
        for l in lines {
            eprintln!("{l}");
        }
    }
}

pub fn require(args: SpecItems, global: &Global, key: &str) -> Result<()> {
    let path = &global.manifest;
    let old = read(path)?;
    let before = Manifest::parse(&old, path)?;
    let spec = table(&args.spec);
    let written = before.specs.get(&args.spec).map(|s| {
        if key == "include" {
            &s.include
        } else {
            &s.exclude
        }
    });
    let (verb, already) = if key == "include" {
        ("added", "required by")
    } else {
        ("forbade", "forbidden by")
    };
    let (mut said, mut changed) = (Vec::new(), false);
    for item in &args.items {
        let name = requirement_name(item);
        let was = written.and_then(|w| w.iter().find(|s| requirement_name(s) == name));
        match was {
            Some(w) if w == item => said.push(format!("{item} is already {already} {spec}")),
            Some(w) => {
                changed = true;
                said.push(format!("changed {w} to {item} in {spec}"));
            }
            None => {
                changed = true;
                let to = if key == "include" { "to" } else { "in" };
                said.push(format!("{verb} {item} {to} {spec}"));
            }
        }
    }
    if !changed {
        said.push("nothing to change".into());
        say(global, &said);
        return Ok(());
    }
    if written.is_none() {
        said.insert(0, format!("created {spec}"));
    }
    let text = edit::add_to_spec(&old, path, &args.spec, key, &args.items)?;
    write(path, &text)?;
    say(global, &said);
    Ok(())
}

pub fn remove(args: SpecItems, global: &Global) -> Result<()> {
    let path = &global.manifest;
    let old = read(path)?;
    let before = Manifest::parse(&old, path)?;
    let spec = table(&args.spec);
    let Some(written) = before.specs.get(&args.spec) else {
        bail!("{}: no {spec} in the manifest", path.display());
    };
    let mut said = Vec::new();
    for item in &args.items {
        let name = requirement_name(item);
        let mut found = false;
        for (list, what) in [(&written.include, ""), (&written.exclude, "constraint ")] {
            for w in list.iter().filter(|w| requirement_name(w) == name) {
                found = true;
                said.push(format!("removed {what}{w} from {spec}"));
            }
        }
        if !found {
            said.push(format!(
                "{name} is neither required nor forbidden by {spec}"
            ));
        }
    }
    if said.iter().all(|l| !l.starts_with("removed ")) {
        said.push("nothing to change".into());
        say(global, &said);
        return Ok(());
    }
    let text = edit::remove_from_spec(&old, path, &args.spec, &args.items)?;
    write(path, &text)?;
    say(global, &said);
    Ok(())
}

pub fn archive(cmd: ArchiveCmd, global: &Global) -> Result<()> {
    let path = &global.manifest;
    let (url, suite, components, signed_by, allow_insecure, no_verify) = match cmd {
        ArchiveCmd::Remove { url } => return crate::editmore::archive_remove(&url, global),
        ArchiveCmd::Add {
            url,
            suite,
            components,
            signed_by,
            allow_insecure,
            no_verify,
        } => (url, suite, components, signed_by, allow_insecure, no_verify),
    };
    // Checked here, naming the flags: the manifest's own checks would cite
    // a line of a file that was never written.
    let suites = list(&suite);
    if suites.is_empty() {
        bail!("--suite: give at least one suite (comma-separated; 'DIR/' for a flat repository)");
    }
    let flat = suites.iter().filter(|s| s.ends_with('/')).count();
    if flat != 0 && flat != suites.len() {
        bail!("--suite {suite}: flat suites (ending in '/') and dists/ suites cannot be mixed in one archive");
    }
    let components = match components.as_deref().map(list) {
        Some(c) if flat > 0 && !c.is_empty() => {
            bail!("--components: a flat repository (--suite ending in '/') has no components")
        }
        Some(c) if c.is_empty() && flat == 0 => {
            bail!("--components: give at least one component, e.g. main")
        }
        Some(c) => c,
        None if flat > 0 => Vec::new(),
        None => vec!["main".to_owned()],
    };
    if url.trim().is_empty() {
        bail!("URL: give the archive's URL");
    }
    let old = read(path)?;
    let before = Manifest::parse(&old, path)?;
    let a = NewArchive {
        url: Some(url),
        mirror: None,
        suites,
        components,
        signed_by,
        allow_insecure,
    };
    let what = format!(
        "{} (suites {}{})",
        a.url.as_deref().unwrap_or_default(),
        a.suites.join(", "),
        if a.components.is_empty() {
            String::new()
        } else {
            format!("; components {}", a.components.join(", "))
        }
    );
    if before
        .archives
        .iter()
        .any(|b| b.url == a.url && b.suites == a.suites && b.components == a.components)
    {
        say(
            global,
            &[
                format!("{} has the archive {what} already", path.display()),
                "nothing to change".into(),
            ],
        );
        return Ok(());
    }
    let text = match edit::add_archive(&old, path, &a) {
        Ok(text) => text,
        // The manifest read fine: what fails is the new archive, in text
        // that was never written, so its position would mislead.
        Err(e) if e.pos.is_some() => bail!("archive add: {}", e.message),
        Err(e) => return Err(e.into()),
    };
    check_new_archives(&text, path, before.archives.len(), false, no_verify, global)?;
    write(path, &text)?;
    say(
        global,
        &[format!("added archive {what} to {}", path.display())],
    );
    Ok(())
}
