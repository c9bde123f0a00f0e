//! The editing verbs beyond requirements and archives: `artifact add` and
//! `remove`, `stage` (alias of `spec artifact add`), `spec artifact`,
//! `spec extend`, `spec meta`, `edit` (the manifest, a spec's `build-env`
//! or its `build-script` in `$EDITOR`), `deb add` and `archive remove`.
//! Each checks its arguments and names the flag at fault, edits the text
//! with `debrepo::manifest::edit` (comments and layout kept, the result
//! parsed again), writes it atomically and says on standard error what
//! changed, or "nothing to change".

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use debrepo::manifest::edit::{self as medit, Edit, EditError, Extends, ImportedFrom, NewArtifact};
use debrepo::manifest::import::Pinned;
use debrepo::manifest::{ArtifactKind, Manifest};

use crate::edit::{read, say, write};
use crate::Global;

#[derive(clap::Subcommand)]
pub enum ArtifactCmd {
    /// Define an artifact: a file, tarball or directory (a path, or an
    /// http(s):// or file:// URL; its blake3 hash is recorded) or, as
    /// @FILE, a text written into the manifest. Specs stage it at TARGET
    /// (see `stage`).
    Add(ArtifactAddArgs),
    /// Remove an artifact (refused while a spec stages it).
    Remove {
        /// The artifact's name.
        name: String,
    },
}

#[derive(clap::Args)]
pub struct ArtifactAddArgs {
    /// The artifact's name (default: the last component of SOURCE's path,
    /// as `app.conf` for files/app.conf; for @FILE, FILE's).
    #[arg(long)]
    name: Option<String>,
    /// Keep tarballs and compressed files as they are (unpack = false).
    #[arg(long)]
    no_unpack: bool,
    /// file, tar, dir or text (default: text for @FILE, dir for a
    /// directory, tar for *.tar and *.tar.*, else file).
    #[arg(long = "type", value_name = "TYPE", value_parser = ["file", "tar", "dir", "text"])]
    kind: Option<String>,
    /// A path (recorded relative to the manifest's folder), an http(s)://
    /// or file:// URL, or @FILE for a text artifact with FILE's content.
    source: String,
    /// Where it goes in the tree (a trailing / means "into this
    /// directory").
    target: String,
}

#[derive(clap::Args)]
pub struct StageArgs {
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// Artifact names (`[artifact."NAME"]`).
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
}

#[derive(clap::Subcommand)]
pub enum SpecArtifactCmd {
    /// Stage artifacts in a spec (its `stage` list).
    Add(StageArgs),
    /// Stop staging artifacts in a spec.
    Remove(StageArgs),
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("how").required(true).args(["parents", "add", "remove", "clear"]))]
pub struct ExtendArgs {
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// The new list of parents, in order (the first is the primary one).
    #[arg(value_name = "PARENT")]
    parents: Vec<String>,
    /// Append a parent (repeatable).
    #[arg(long, value_name = "PARENT")]
    add: Vec<String>,
    /// Drop a parent (repeatable).
    #[arg(long, value_name = "PARENT")]
    remove: Vec<String>,
    /// Drop every parent.
    #[arg(long)]
    clear: bool,
}

#[derive(clap::Subcommand)]
pub enum MetaCmd {
    /// Set KEY:VALUE in a spec's meta list, replacing KEY's entry
    /// (`spec meta set apt-lists stage` stages APT's sources and lists).
    Set {
        /// The spec (default: the unnamed `[spec]`).
        #[arg(short, long, default_value = "")]
        spec: String,
        /// The key (or KEY:VALUE in one word).
        key: String,
        /// The value.
        value: Option<String>,
    },
    /// Remove KEY's entry from a spec's meta list.
    Unset {
        /// The spec (default: the unnamed `[spec]`).
        #[arg(short, long, default_value = "")]
        spec: String,
        /// The key.
        key: String,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EditArgs {
    #[command(subcommand)]
    what: Option<EditCmd>,
}

#[derive(clap::Subcommand)]
pub enum EditCmd {
    /// Edit a spec's build-env as KEY=VALUE lines.
    Env {
        /// The spec (default: the unnamed `[spec]`).
        #[arg(short, long, default_value = "")]
        spec: String,
    },
    /// Edit a spec's build-script (bash; an empty file removes it).
    Script {
        /// The spec (default: the unnamed `[spec]`).
        #[arg(short, long, default_value = "")]
        spec: String,
    },
}

#[derive(clap::Subcommand)]
pub enum DebCmd {
    /// Record a local .deb as a `[[local]]` package, with its hash (the file
    /// is not copied; update checks the hash).
    Add {
        /// The .deb (recorded relative to the manifest's folder).
        path: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The manifest to build on: a path to it (recorded relative to this
    /// manifest's folder), a file:///PATH URL, or a git URL
    /// (git+https://, git+http://, git+ssh:// or git+file:// with ?rev=REV
    /// or ?ref=BRANCH-OR-TAG and #PATH-IN-REPO).
    source: String,
    /// A spec of the imported manifest that this one may extend
    /// (repeatable).
    #[arg(short, long = "spec")]
    specs: Vec<String>,
}

/// `import PATH --spec S...`: write or replace `[import]`.
pub fn import(args: ImportArgs, global: &Global) -> Result<()> {
    let (path, old) = load(global)?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let pinned = pin_import(&args.source, &args.specs, global, &dir)?;
    let r = match &pinned {
        Pinned::Path { path: source, hash } => {
            let rel = manifest_relative(&path, source)?;
            medit::set_import(&old, &path, ImportedFrom::Path(&rel), hash, &args.specs)
        }
        Pinned::Git { pin, hash } => {
            medit::set_import(&old, &path, ImportedFrom::Git(pin), hash, &args.specs)
        }
    };
    apply(global, &path, "import", r, &|_| None)?;
    say(global, &["next: rdebootstrap update".to_owned()]);
    Ok(())
}

/// Pin the import `source` ([`debrepo::manifest::import::pin_source`]),
/// with git and the cache when it is a git URL (credentials from `-a`,
/// else `auth.toml` in `auth_dir`).
pub fn pin_import(
    source: &str,
    specs: &[String],
    global: &Global,
    auth_dir: &Path,
) -> Result<Pinned> {
    use debrepo::manifest::import::ImportSource;
    let access = match ImportSource::parse(source) {
        Ok(ImportSource::Git(_)) => Some(crate::lockcmd::git_access(global, Some(auth_dir))?),
        _ => None,
    };
    Ok(debrepo::manifest::import::pin_source(
        source,
        specs,
        access.as_ref(),
    )?)
}

/// The manifest's text, checked (a fault in it names its line).
fn load(global: &Global) -> Result<(PathBuf, String)> {
    let path = global.manifest.clone();
    let text = read(&path)?;
    Manifest::parse(&text, &path)?;
    Ok((path, text))
}

/// Write an edit and say what it did. An error about the arguments is
/// prefixed by `flag(err)` (the flag or argument at fault); the edited
/// text failing its check is said without a position, as that text was
/// never written.
fn apply(
    global: &Global,
    path: &Path,
    verb: &str,
    result: Result<Edit, EditError>,
    flag: &dyn Fn(&EditError) -> Option<String>,
) -> Result<()> {
    let edit = match result {
        Ok(e) => e,
        Err(EditError::Manifest(e)) if e.pos.is_some() => {
            bail!("{verb}: the manifest would not be valid: {}", e.message)
        }
        Err(EditError::Manifest(e)) => return Err(e.into()),
        Err(e) => {
            return Err(match flag(&e) {
                Some(f) => anyhow!("{f}: {e}"),
                None => anyhow!("{verb}: {e}"),
            })
        }
    };
    let mut lines = edit.lines;
    if edit.changed {
        write(path, &edit.text)?;
    } else {
        lines.push("nothing to change".into());
    }
    say(global, &lines);
    Ok(())
}

/// `-s SPEC` for an unknown spec, else nothing.
fn spec_flag(spec: &str) -> impl Fn(&EditError) -> Option<String> + '_ {
    move |e| match e {
        EditError::NoSpec { name, .. } if name == spec => Some(format!("-s {spec}")),
        _ => None,
    }
}

/// `p` as recorded in the manifest at `manifest`: relative to its folder
/// (with `..` where needed), or absolute when given absolute and outside
/// that folder.
pub(crate) fn manifest_relative(manifest: &Path, p: &Path) -> Result<String> {
    let dir = manifest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot find the manifest's folder {}", dir.display()))?;
    // The folder is resolved, not the file: a symbolic link is recorded
    // as the link.
    let file = match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            parent
                .canonicalize()
                .with_context(|| format!("cannot find {}", p.display()))?
                .join(name)
        }
        _ => p
            .canonicalize()
            .with_context(|| format!("cannot find {}", p.display()))?,
    };
    if let Ok(rest) = file.strip_prefix(&dir) {
        return Ok(if rest.as_os_str().is_empty() {
            ".".into()
        } else {
            rest.display().to_string()
        });
    }
    if p.is_absolute() {
        return Ok(file.display().to_string());
    }
    let d: Vec<Component> = dir.components().collect();
    let f: Vec<Component> = file.components().collect();
    let common = d.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..d.len() {
        rel.push("..");
    }
    for c in &f[common..] {
        rel.push(c);
    }
    Ok(rel.display().to_string())
}

/// The last component of a path or URL path, for a default name.
fn last_component(source: &str) -> Option<String> {
    let s = source.split(['?', '#']).next().unwrap_or(source);
    let s = s.split_once("://").map_or(s, |(_, rest)| {
        rest.split_once('/').map_or("", |(_, path)| path)
    });
    s.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_owned)
}

fn inferred_kind(name: &str, is_dir: bool) -> ArtifactKind {
    if is_dir {
        ArtifactKind::Dir
    } else if name.ends_with(".tar") || name.contains(".tar.") {
        ArtifactKind::Tar
    } else {
        ArtifactKind::File
    }
}

pub fn artifact(cmd: ArtifactCmd, global: &Global) -> Result<()> {
    match cmd {
        ArtifactCmd::Add(args) => artifact_add(args, global),
        ArtifactCmd::Remove { name } => {
            let (path, old) = load(global)?;
            let r = medit::remove_artifact(&old, &path, &name);
            apply(global, &path, "artifact remove", r, &|e| match e {
                EditError::NoArtifact { .. } => Some(format!("NAME {name}")),
                _ => None,
            })
        }
    }
}

fn artifact_add(args: ArtifactAddArgs, global: &Global) -> Result<()> {
    let (path, old) = load(global)?;
    let given = args.kind.as_deref().map(|k| match k {
        "file" => ArtifactKind::File,
        "tar" => ArtifactKind::Tar,
        "dir" => ArtifactKind::Dir,
        _ => ArtifactKind::Text,
    });
    if args.target.trim().is_empty() {
        bail!("TARGET: give the path the artifact is staged at in the tree");
    }
    let mut a = NewArtifact {
        kind: ArtifactKind::Text,
        target: args.target.clone(),
        url: None,
        path: None,
        text: None,
        hash: None,
        unpack: !args.no_unpack,
    };
    let default_name;
    if let Some(file) = args.source.strip_prefix('@') {
        if given.is_some_and(|k| k != ArtifactKind::Text) {
            bail!("--type: @FILE makes a text artifact (its content is written into the manifest)");
        }
        let bytes =
            std::fs::read(file).with_context(|| format!("SOURCE @{file}: cannot read {file}"))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            anyhow!("SOURCE @{file}: not UTF-8 text (use the path without @ for a file artifact)")
        })?;
        a.text = Some(text);
        default_name = last_component(file);
    } else if args.source.contains("://") {
        let scheme = args.source.split("://").next().unwrap_or_default();
        if !matches!(scheme, "http" | "https" | "file") {
            bail!(
                "SOURCE {}: use a path, an http://, https:// or file:// URL, or @FILE",
                args.source
            );
        }
        default_name = last_component(&args.source);
        let local = debrepo::transport::local_path(&args.source);
        let is_dir = local.as_deref().is_some_and(Path::is_dir);
        a.kind = given
            .unwrap_or_else(|| inferred_kind(default_name.as_deref().unwrap_or_default(), is_dir));
        check_kind(a.kind, is_dir)?;
        a.hash = Some(url_hash(&args.source, local.as_deref(), global)?);
        a.url = Some(args.source.clone());
    } else {
        let src = Path::new(&args.source);
        let meta = std::fs::metadata(src)
            .with_context(|| format!("SOURCE {}: cannot read it", args.source))?;
        default_name = last_component(&args.source);
        a.kind = given.unwrap_or_else(|| {
            inferred_kind(default_name.as_deref().unwrap_or_default(), meta.is_dir())
        });
        check_kind(a.kind, meta.is_dir())?;
        a.hash = Some(path_hash(src)?);
        a.path = Some(manifest_relative(&path, src)?);
    }
    if a.kind == ArtifactKind::Text && a.text.is_none() {
        bail!("--type text: a text artifact comes from @FILE");
    }
    if args.no_unpack && matches!(a.kind, ArtifactKind::Text | ArtifactKind::Dir) {
        bail!("--no-unpack: only file and tar artifacts are unpacked");
    }
    let name = match args.name.clone().or(default_name) {
        Some(n) => n,
        None => bail!(
            "SOURCE {}: no name to take from it: give --name NAME",
            args.source
        ),
    };
    let r = medit::add_artifact(&old, &path, &name, &a);
    let added = matches!(&r, Ok(e) if e.changed);
    let named = args.name.is_some();
    apply(global, &path, "artifact add", r, &|e| match e {
        EditError::ArtifactExists { .. } if named => Some(format!("--name {name}")),
        EditError::ArtifactExists { .. } => Some(format!(
            "the name {name} (from SOURCE; choose another with --name)"
        )),
        EditError::Invalid {
            what: "artifact name",
            ..
        } => Some("--name".into()),
        EditError::Invalid { what: "target", .. } => Some("TARGET".into()),
        _ => None,
    })?;
    if added {
        say(
            global,
            &[format!(
                "note: stage it in a spec with: rdebootstrap stage -s SPEC {name}"
            )],
        );
    }
    Ok(())
}

fn check_kind(kind: ArtifactKind, is_dir: bool) -> Result<()> {
    match (kind, is_dir) {
        (ArtifactKind::Dir, false) => bail!("--type dir: SOURCE is not a directory"),
        (ArtifactKind::File | ArtifactKind::Tar, true) => {
            bail!("--type: SOURCE is a directory (a dir artifact)")
        }
        (ArtifactKind::Text, _) => bail!("--type text: a text artifact comes from @FILE"),
        _ => Ok(()),
    }
}

/// The SRI blake3 hash of a local file or directory.
fn path_hash(p: &Path) -> Result<String> {
    debrepo::artifact::sri_blake3_of_path(p)
        .with_context(|| format!("SOURCE {}: cannot hash it", p.display()))
}

/// The SRI blake3 hash of what a URL serves (a file:// directory is hashed
/// as a directory), fetched through the transport as archives are.
fn url_hash(url: &str, local: Option<&Path>, global: &Global) -> Result<String> {
    if let Some(p) = local {
        return path_hash(p);
    }
    let auth_dir = global.manifest.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    });
    let (transport, _cache) = crate::lockcmd::transport_and_cache(global, auth_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bytes = runtime
        .block_on(transport.get(url))
        .with_context(|| format!("SOURCE {url}: cannot fetch it"))?;
    Ok(debrepo::artifact::sri_blake3(&bytes))
}

pub fn stage(args: StageArgs, global: &Global, add: bool) -> Result<()> {
    let (path, old) = load(global)?;
    let r = medit::stage(&old, &path, &args.spec, &args.names, add);
    let spec = spec_flag(&args.spec);
    apply(global, &path, "stage", r, &|e| match e {
        EditError::NoArtifact { name, .. } => Some(format!("NAME {name}")),
        e => spec(e),
    })
}

pub fn spec_artifact(cmd: SpecArtifactCmd, global: &Global) -> Result<()> {
    match cmd {
        SpecArtifactCmd::Add(a) => stage(a, global, true),
        SpecArtifactCmd::Remove(a) => stage(a, global, false),
    }
}

pub fn extend(args: ExtendArgs, global: &Global) -> Result<()> {
    let (path, old) = load(global)?;
    let (op, flag) = if args.clear {
        (Extends::Clear, "--clear")
    } else if !args.add.is_empty() {
        if !args.remove.is_empty() || !args.parents.is_empty() {
            bail!("--add: give parents to add, or to remove, or the whole list, one at a time");
        }
        (Extends::Add(args.add), "--add")
    } else if !args.remove.is_empty() {
        if !args.parents.is_empty() {
            bail!("--remove: give parents to remove, or the whole list, not both");
        }
        (Extends::Remove(args.remove), "--remove")
    } else {
        (Extends::Set(args.parents), "PARENT")
    };
    let r = medit::extend(&old, &path, &args.spec, &op);
    let spec = args.spec.clone();
    apply(global, &path, "spec extend", r, &|e| match e {
        EditError::NoSpec { name, .. } if *name == spec => Some(format!("-s {spec}")),
        EditError::NoSpec { name, .. } => Some(format!("{flag} {name}")),
        EditError::Invalid { value, .. } => Some(format!("{flag} {value}")),
        EditError::Extends(_) => Some(flag.to_owned()),
        _ => None,
    })
}

pub fn meta(cmd: MetaCmd, global: &Global) -> Result<()> {
    let (path, old) = load(global)?;
    match cmd {
        MetaCmd::Set { spec, key, value } => {
            let (key, value) = match (key.split_once(':'), value) {
                (Some(_), Some(_)) => {
                    bail!("KEY {key}: give KEY VALUE or KEY:VALUE, not both")
                }
                (Some((k, v)), None) => (k.to_owned(), Some(v.to_owned())),
                (None, v) => (key, v),
            };
            let r = medit::meta_set(&old, &path, &spec, &key, value.as_deref());
            let sf = spec_flag(&spec);
            apply(global, &path, "spec meta set", r, &|e| match e {
                EditError::Invalid {
                    what: "meta key", ..
                } => Some("KEY".into()),
                EditError::Invalid {
                    what: "meta value", ..
                } => Some("VALUE".into()),
                e => sf(e),
            })
        }
        MetaCmd::Unset { spec, key } => {
            let r = medit::meta_unset(&old, &path, &spec, &key);
            apply(global, &path, "spec meta unset", r, &spec_flag(&spec))
        }
    }
}

pub fn deb(cmd: DebCmd, global: &Global) -> Result<()> {
    let DebCmd::Add { path: deb } = cmd;
    let (path, old) = load(global)?;
    let bytes =
        std::fs::read(&deb).with_context(|| format!("PATH {}: cannot read it", deb.display()))?;
    let reader = debrepo::deb::DebReader::new(bytes.as_slice())
        .with_context(|| format!("PATH {}: not a .deb", deb.display()))?;
    let package = reader
        .control()
        .package()
        .with_context(|| format!("PATH {}: no usable control data", deb.display()))?;
    let what = format!(
        "{} {} ({})",
        package.name, package.version, package.architecture
    );
    let hash = medit::local_deb_hash(&bytes);
    let rel = manifest_relative(&path, &deb)?;
    let r = medit::add_local(&old, &path, &rel, &hash);
    apply(global, &path, "deb add", r, &|_| {
        Some(format!("PATH {}", deb.display()))
    })?;
    say(global, &[format!("note: {rel} is {what}")]);
    Ok(())
}

pub fn archive_remove(which: &str, global: &Global) -> Result<()> {
    let (path, old) = load(global)?;
    let r = medit::remove_archive(&old, &path, which);
    apply(global, &path, "archive remove", r, &|_| {
        Some(format!("URL {which}"))
    })
}

/// A temporary file for the editor, created new and private; removed on
/// drop unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn new(manifest: &Path, suffix: &str, text: &str) -> Result<Scratch> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let stem = manifest
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Manifest".into());
        let dir = std::env::temp_dir();
        for n in 0..100u32 {
            let path = dir.join(format!(
                "rdebootstrap-edit-{}-{n}-{stem}{suffix}",
                std::process::id()
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(text.as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok(Scratch { path, keep: false });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot write {}", path.display()))
                }
            }
        }
        bail!("cannot make a temporary file in {}", dir.display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Run `$EDITOR` (else `$VISUAL`, else `vi`) on `file`, through the shell
/// so that an editor given with arguments (`code --wait`) works.
fn run_editor(file: &Path) -> Result<()> {
    let editor = ["EDITOR", "VISUAL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file)
        .status()
        .with_context(|| format!("cannot run the editor '{editor}'"))?;
    if !status.success() {
        bail!("the editor '{editor}' ended with {status}; the manifest is unchanged");
    }
    Ok(())
}

/// Edit `text` in the editor; the edited text, or `None` when the editor
/// left it as it was. On an error from `check`, the edited file is kept
/// and named.
fn edit_text<T>(
    manifest: &Path,
    suffix: &str,
    text: &str,
    check: &dyn Fn(&str, &Path) -> Result<T>,
) -> Result<Option<T>> {
    let mut scratch = Scratch::new(manifest, suffix, text)?;
    run_editor(&scratch.path)?;
    let new = std::fs::read_to_string(&scratch.path)
        .with_context(|| format!("cannot read {}", scratch.path.display()))?;
    if new == text {
        return Ok(None);
    }
    match check(&new, &scratch.path) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            scratch.keep = true;
            Err(e.context(format!(
                "the manifest is unchanged; the edited text is kept in {}",
                scratch.path.display()
            )))
        }
    }
}

/// Write `text` unless the manifest changed under the editor.
fn write_edited(path: &Path, old: &str, text: &str) -> Result<()> {
    if read(path)? != old {
        bail!(
            "{} changed while it was being edited; run the edit again",
            path.display()
        );
    }
    write(path, text)
}

pub fn edit(args: EditArgs, global: &Global) -> Result<()> {
    let Some(what) = args.what else {
        // The manifest need not parse yet: this is how to mend it.
        let path = global.manifest.clone();
        let old = read(&path)?;
        let checked = edit_text(&path, ".toml", &old, &|new, scratch| {
            Manifest::parse(new, scratch)
                .map(|_| new.to_owned())
                .map_err(anyhow::Error::from)
        })?;
        match checked {
            None => say(global, &["nothing to change".into()]),
            Some(new) => {
                write_edited(&path, &old, &new)?;
                say(global, &[format!("wrote {}", path.display())]);
            }
        }
        return Ok(());
    };
    let (path, old) = load(global)?;
    match what {
        EditCmd::Env { spec } => {
            let m = Manifest::parse(&old, &path)?;
            let env = existing(&m, &spec)?.build_env;
            if let Some((k, _)) = env.iter().find(|(_, v)| v.contains('\n')) {
                bail!("-s {spec}: build-env {k} spans lines, which KEY=VALUE lines cannot hold: edit it with rdebootstrap edit");
            }
            let mut text = format!(
                "# build-env of {}: one KEY=VALUE a line (the value is the rest of the\n# line, as it is); lines starting with # are ignored.\n",
                medit::spec_table_label(&spec)
            );
            for (k, v) in &env {
                text.push_str(&format!("{k}={v}\n"));
            }
            let edited = edit_text(&path, ".env", &text, &|new, scratch| {
                let env = parse_env(new, scratch)?;
                Ok(medit::set_build_env(&old, &path, &spec, &env)?)
            })?;
            finish_edit(global, &path, &old, edited)
        }
        EditCmd::Script { spec } => {
            let m = Manifest::parse(&old, &path)?;
            let script = existing(&m, &spec)?.build_script.unwrap_or_default();
            let edited = edit_text(&path, ".sh", &script, &|new, _| {
                Ok(medit::set_build_script(&old, &path, &spec, Some(new))?)
            })?;
            finish_edit(global, &path, &old, edited)
        }
    }
}

fn finish_edit(global: &Global, path: &Path, old: &str, edited: Option<Edit>) -> Result<()> {
    match edited {
        Some(e) if e.changed => {
            write_edited(path, old, &e.text)?;
            say(global, &e.lines);
        }
        _ => say(global, &["nothing to change".into()]),
    }
    Ok(())
}

/// The spec as written (the unnamed `[spec]` may be missing: empty).
fn existing(m: &Manifest, spec: &str) -> Result<debrepo::manifest::Spec> {
    match m.specs.get(spec) {
        Some(s) => Ok(s.clone()),
        None if spec.is_empty() => Ok(Default::default()),
        None => Err(anyhow!(
            "-s {spec}: {}",
            EditError::NoSpec {
                name: spec.to_owned(),
                defined: m.specs.keys().map(|k| medit::spec_table_label(k)).collect(),
            }
        )),
    }
}

/// KEY=VALUE lines; blank lines and lines starting with `#` are skipped.
fn parse_env(text: &str, file: &Path) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            bail!("{}:{}: '{line}' is not KEY=VALUE", file.display(), i + 1);
        };
        let k = k.trim_end();
        if env.insert(k.to_owned(), v.to_owned()).is_some() {
            bail!("{}:{}: {k} is set twice", file.display(), i + 1);
        }
    }
    Ok(env)
}
