//! Reading the manifest's tables with positions for every error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::{Item, Table, TableLike};

use super::import::source::{GitRemote, GitRev, RepoPath};
use super::{
    ArchiveDecl, Artifact, ArtifactKind, GitImport, Import, LocalDeb, Manifest, ManifestError,
    SignedBy, Spec, Variant,
};
use crate::archive::SNAPSHOT_PLACEHOLDER;
use crate::pathfilter::{Action, PathFilters, Preset};

/// apt's default pin priority.
const DEFAULT_PRIORITY: i64 = 500;

const SPEC_KEYS: [&str; 13] = [
    "extends",
    "foreign-architectures",
    "include",
    "exclude",
    "variant",
    "recommends",
    "stage",
    "build-env",
    "build-script",
    "meta",
    "path-filters",
    "path-exclude",
    "path-include",
];

struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    fn pos(&self, span: Option<std::ops::Range<usize>>) -> Option<(usize, usize)> {
        let start = span?.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let col = start - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Some((line, col))
    }

    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> ManifestError {
        ManifestError {
            path: self.path.to_owned(),
            pos: self.pos(span),
            message: message.into(),
            source: None,
        }
    }

    fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        self.pos(span).map_or(0, |p| p.0)
    }

    fn unknown_keys(
        &self,
        t: &dyn TableLike,
        allowed: &[&str],
        what: &str,
    ) -> Result<(), ManifestError> {
        for (k, item) in t.iter() {
            if !allowed.contains(&k) {
                return Err(self.err(
                    item.span()
                        .or_else(|| t.get_key_value(k).and_then(|(key, _)| key.span())),
                    format!(
                        "unknown key '{k}' in {what} (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn string(
        &self,
        t: &dyn TableLike,
        key: &str,
        what: &str,
    ) -> Result<Option<String>, ManifestError> {
        match t.get(key) {
            None => Ok(None),
            Some(item) => item.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| {
                self.err(item.span(), format!("'{key}' in {what} must be a string"))
            }),
        }
    }

    fn boolean(
        &self,
        t: &dyn TableLike,
        key: &str,
        what: &str,
    ) -> Result<Option<bool>, ManifestError> {
        match t.get(key) {
            None => Ok(None),
            Some(item) => item.as_bool().map(Some).ok_or_else(|| {
                self.err(
                    item.span(),
                    format!("'{key}' in {what} must be true or false"),
                )
            }),
        }
    }

    /// An array of strings (or, with `single`, one string).
    fn strings(
        &self,
        t: &dyn TableLike,
        key: &str,
        what: &str,
        single: bool,
    ) -> Result<Vec<String>, ManifestError> {
        let Some(item) = t.get(key) else {
            return Ok(Vec::new());
        };
        if single {
            if let Some(s) = item.as_str() {
                return Ok(vec![s.to_owned()]);
            }
        }
        let bad = || {
            self.err(
                item.span(),
                format!(
                    "'{key}' in {what} must be {}an array of strings",
                    if single { "a string or " } else { "" }
                ),
            )
        };
        let arr = item.as_array().ok_or_else(bad)?;
        arr.iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    self.err(
                        v.span(),
                        format!("'{key}' in {what} must hold strings only"),
                    )
                })
            })
            .collect()
    }

    /// `key`'s strings, each one or more package relations in the syntax
    /// of `field` (as the solver reads them); an entry that names no
    /// package, or that the solver could not read, is an error at its line.
    fn requirements(
        &self,
        t: &dyn TableLike,
        key: &str,
        what: &str,
        field: crate::relation::FieldKind,
    ) -> Result<Vec<String>, ManifestError> {
        let out = self.strings(t, key, what, false)?;
        for v in t.get(key).and_then(Item::as_array).into_iter().flatten() {
            let text = v.as_str().unwrap_or_default();
            if let Some(problem) = requirement_problem(field, text) {
                return Err(self.err(
                    v.span(),
                    format!("'{key}' in {what}: {text:?} is not a package requirement: {problem}"),
                ));
            }
        }
        Ok(out)
    }
}

/// What keeps `text` from being a spec's requirement in `field`'s syntax
/// (`Depends` for `include`, `Conflicts` for `exclude`, as the solver
/// reads them), if anything: the one rule for the manifest and its
/// editing verbs.
pub(super) fn requirement_problem(field: crate::relation::FieldKind, text: &str) -> Option<String> {
    match crate::relation::parse(field, text) {
        Ok(r) if r.groups().next().is_none() => Some("it names no package".to_owned()),
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

pub(super) fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    let cx = Ctx { text, path };
    let doc = toml_edit::Document::parse(text).map_err(|e| ManifestError {
        path: path.to_owned(),
        pos: e.span().and_then(|s| cx.pos(Some(s))),
        message: e.message().trim().to_owned(),
        source: None,
    })?;
    let root = doc.as_table();
    cx.unknown_keys(
        root,
        &["archive", "local", "artifact", "import", "spec"],
        "the manifest",
    )?;
    let mut m = Manifest {
        path: path.to_owned(),
        ..Manifest::default()
    };
    if let Some(item) = root.get("archive") {
        let arr = item.as_array_of_tables().ok_or_else(|| {
            cx.err(
                item.span(),
                "'archive' must be written as [[archive]] tables",
            )
        })?;
        for t in arr.iter() {
            m.archives.push(archive(&cx, t)?);
        }
    }
    if let Some(item) = root.get("local") {
        let arr = item
            .as_array_of_tables()
            .ok_or_else(|| cx.err(item.span(), "'local' must be written as [[local]] tables"))?;
        for t in arr.iter() {
            cx.unknown_keys(t, &["path", "hash"], "[[local]]")?;
            let p = cx
                .string(t, "path", "[[local]]")?
                .ok_or_else(|| cx.err(t.span(), "[[local]] needs a 'path' to a .deb"))?;
            m.locals.push(LocalDeb {
                path: PathBuf::from(p),
                hash: cx.string(t, "hash", "[[local]]")?,
                line: cx.line(t.span()),
            });
        }
    }
    if let Some(item) = root.get("artifact") {
        let t = item.as_table().ok_or_else(|| {
            cx.err(
                item.span(),
                "'artifact' must hold [artifact.\"NAME\"] tables",
            )
        })?;
        for (name, a) in t.iter() {
            m.artifacts.insert(name.to_owned(), artifact(&cx, name, a)?);
        }
    }
    if let Some(item) = root.get("import") {
        m.import = Some(import(&cx, item)?);
    }
    if let Some(item) = root.get("spec") {
        let t = item
            .as_table()
            .ok_or_else(|| cx.err(item.span(), "'spec' must be a table: [spec] or [spec.NAME]"))?;
        let has_own = SPEC_KEYS.iter().any(|k| t.contains_key(k));
        if has_own {
            m.specs
                .insert(String::new(), spec(&cx, t, "[spec]", true, &m.artifacts)?);
        }
        for (name, sub) in t.iter() {
            if SPEC_KEYS.contains(&name) {
                continue;
            }
            let st = sub.as_table().ok_or_else(|| {
                cx.err(
                    sub.span(),
                    format!(
                        "unknown key '{name}' in [spec] (allowed: {}, or [spec.NAME] tables)",
                        SPEC_KEYS.join(", ")
                    ),
                )
            })?;
            m.specs.insert(
                name.to_owned(),
                spec(&cx, st, &format!("[spec.{name}]"), false, &m.artifacts)?,
            );
        }
    }
    if m.specs.is_empty() && root.contains_key("spec") {
        // An empty [spec] table is still the default spec.
        m.specs.insert(String::new(), Spec::default());
    }
    Ok(m)
}

fn archive(cx: &Ctx<'_>, t: &Table) -> Result<ArchiveDecl, ManifestError> {
    let what = "[[archive]]";
    cx.unknown_keys(
        t,
        &[
            "url",
            "mirror",
            "snapshots",
            "suites",
            "components",
            "signed-by",
            "priority",
            "allow-insecure",
        ],
        what,
    )?;
    let url = cx.string(t, "url", what)?;
    let mirror = cx.string(t, "mirror", what)?;
    if url.is_some() == mirror.is_some() {
        return Err(cx.err(
            t.span(),
            "an [[archive]] needs either 'url' or 'mirror' (a vendor name such as \"debian\", resolved at update time), not both",
        ));
    }
    let suites = cx.strings(t, "suites", what, false)?;
    if suites.is_empty() {
        return Err(cx.err(t.span(), "an [[archive]] needs 'suites' (at least one)"));
    }
    let flat = suites.iter().filter(|s| s.ends_with('/')).count();
    if flat != 0 && flat != suites.len() {
        return Err(cx.err(
            t.get("suites").and_then(Item::span),
            "flat suites (ending in '/') and dists/ suites cannot be mixed in one [[archive]]",
        ));
    }
    let components = cx.strings(t, "components", what, false)?;
    if flat > 0 && !components.is_empty() {
        return Err(cx.err(
            t.get("components").and_then(Item::span),
            "a flat repository has no components: remove 'components'",
        ));
    }
    if flat == 0 && components.is_empty() && mirror.is_none() {
        return Err(cx.err(
            t.span(),
            "an [[archive]] needs 'components' (at least one, e.g. [\"main\"])",
        ));
    }
    let snapshots = cx.string(t, "snapshots", what)?;
    if let Some(s) = &snapshots {
        if !s.contains(SNAPSHOT_PLACEHOLDER) {
            return Err(cx.err(
                t.get("snapshots").and_then(Item::span),
                format!("'snapshots' must contain {SNAPSHOT_PLACEHOLDER}"),
            ));
        }
    }
    let signed_by = cx.string(t, "signed-by", what)?.map(|s| {
        if s.trim_start()
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        {
            SignedBy::Inline(s)
        } else {
            SignedBy::File(PathBuf::from(s))
        }
    });
    let priority = match t.get("priority") {
        None => DEFAULT_PRIORITY,
        Some(item) => item
            .as_integer()
            .ok_or_else(|| cx.err(item.span(), "'priority' must be an integer"))?,
    };
    Ok(ArchiveDecl {
        url,
        mirror,
        snapshots,
        suites,
        components,
        signed_by,
        priority,
        allow_insecure: cx.boolean(t, "allow-insecure", what)?.unwrap_or(false),
        line: cx.line(t.span()),
    })
}

fn artifact(cx: &Ctx<'_>, name: &str, item: &Item) -> Result<Artifact, ManifestError> {
    let what = format!("[artifact.\"{name}\"]");
    let t = item
        .as_table_like()
        .ok_or_else(|| cx.err(item.span(), format!("{what} must be a table")))?;
    cx.unknown_keys(
        t,
        &["type", "target", "url", "path", "text", "hash", "unpack"],
        &what,
    )?;
    let kind = match cx.string(t, "type", &what)?.as_deref() {
        Some("file") => ArtifactKind::File,
        Some("tar") => ArtifactKind::Tar,
        Some("dir") => ArtifactKind::Dir,
        Some("text") => ArtifactKind::Text,
        Some(other) => {
            return Err(cx.err(
                t.get("type").and_then(Item::span),
                format!("unknown artifact type '{other}' (use file, tar, dir or text)"),
            ))
        }
        None => {
            return Err(cx.err(
                item.span(),
                format!("{what} needs a 'type': file, tar, dir or text"),
            ))
        }
    };
    let target = cx.string(t, "target", &what)?.ok_or_else(|| {
        cx.err(
            item.span(),
            format!("{what} needs a 'target' path in the tree"),
        )
    })?;
    let url = cx.string(t, "url", &what)?;
    let path = cx.string(t, "path", &what)?;
    let text = cx.string(t, "text", &what)?;
    if url.is_some() && path.is_some() {
        return Err(cx.err(
            item.span(),
            format!("{what}: give 'url' or 'path', not both"),
        ));
    }
    let source = url.or(path);
    match kind {
        ArtifactKind::Text if text.is_none() => {
            return Err(cx.err(item.span(), format!("{what}: a text artifact needs 'text'")))
        }
        ArtifactKind::Text if source.is_some() => {
            return Err(cx.err(
                item.span(),
                format!("{what}: a text artifact takes 'text', not 'url' or 'path'"),
            ))
        }
        ArtifactKind::File | ArtifactKind::Tar | ArtifactKind::Dir if source.is_none() => {
            return Err(cx.err(item.span(), format!("{what} needs 'url' or 'path'")))
        }
        ArtifactKind::File | ArtifactKind::Tar | ArtifactKind::Dir if text.is_some() => {
            return Err(cx.err(
                t.get("text").and_then(Item::span),
                format!("{what}: 'text' is for text artifacts; this one's content comes from its 'url' or 'path'"),
            ))
        }
        _ => {}
    }
    // Nothing is unpacked from a directory or a text: the key would do
    // nothing.
    if matches!(kind, ArtifactKind::Dir | ArtifactKind::Text) && t.get("unpack").is_some() {
        return Err(cx.err(
            t.get("unpack").and_then(Item::span),
            format!("{what}: 'unpack' is for file and tar artifacts"),
        ));
    }
    Ok(Artifact {
        kind,
        target,
        source,
        text,
        hash: cx.string(t, "hash", &what)?,
        unpack: cx.boolean(t, "unpack", &what)?.unwrap_or(true),
        line: cx.line(item.span()),
    })
}

fn import(cx: &Ctx<'_>, item: &Item) -> Result<Import, ManifestError> {
    let what = "[import]";
    let t = item
        .as_table()
        .ok_or_else(|| cx.err(item.span(), "'import' must be a table"))?;
    cx.unknown_keys(t, &["path", "git", "hash", "specs"], what)?;
    let path = cx.string(t, "path", what)?.map(PathBuf::from);
    let git = match t.get("git") {
        None => None,
        Some(g) => {
            let gt = g
                .as_table_like()
                .ok_or_else(|| cx.err(g.span(), "[import.git] must be a table"))?;
            cx.unknown_keys(gt, &["remote", "rev", "ref", "path"], "[import.git]")?;
            let need = |k: &str| {
                cx.string(gt, k, "[import.git]")?
                    .ok_or_else(|| cx.err(g.span(), format!("[import.git] needs '{k}'")))
            };
            let at = |k: &str| gt.get(k).and_then(Item::span);
            let rev = GitRev::parse(&need("rev")?).map_err(|e| {
                cx.err(
                    at("rev"),
                    format!("[import.git] 'rev': {e}: 'rev' must be a full 40-hex-digit commit id"),
                )
            })?;
            let remote = GitRemote::parse(&need("remote")?).map_err(|e| {
                cx.err(
                    at("remote"),
                    format!("[import.git] 'remote': {}", e.problem),
                )
            })?;
            let path = RepoPath::parse(&need("path")?)
                .map_err(|e| cx.err(at("path"), format!("[import.git] 'path': {e}")))?;
            let reference = cx.string(gt, "ref", "[import.git]")?;
            if reference.as_deref() == Some("") {
                return Err(cx.err(
                    at("ref"),
                    "[import.git] 'ref' is empty (leave it out to follow no branch or tag)",
                ));
            }
            Some(GitImport {
                remote,
                rev,
                reference,
                path,
                line: cx.line(g.span()),
            })
        }
    };
    if path.is_some() == git.is_some() {
        return Err(cx.err(
            item.span(),
            "[import] needs either 'path' or an [import.git] table",
        ));
    }
    let hash = cx.string(t, "hash", what)?.ok_or_else(|| {
        cx.err(
            item.span(),
            "[import] needs the 'hash' of the imported manifest",
        )
    })?;
    Ok(Import {
        path,
        git,
        hash,
        specs: cx.strings(t, "specs", what, false)?,
        line: cx.line(item.span()),
    })
}

fn spec(
    cx: &Ctx<'_>,
    t: &Table,
    what: &str,
    default: bool,
    artifacts: &BTreeMap<String, Artifact>,
) -> Result<Spec, ManifestError> {
    if !default {
        cx.unknown_keys(t, &SPEC_KEYS, what)?;
    }
    let variant = match t.get("variant") {
        None => None,
        Some(item) => {
            let s = item
                .as_str()
                .ok_or_else(|| cx.err(item.span(), "'variant' must be a string"))?;
            Some(Variant::from_name(s).ok_or_else(|| {
                cx.err(
                    item.span(),
                    format!("unknown variant '{s}' (use custom, essential, required, minbase, buildd, important or standard)"),
                )
            })?)
        }
    };
    let mut build_env = BTreeMap::new();
    if let Some(item) = t.get("build-env") {
        let env = item
            .as_table_like()
            .ok_or_else(|| cx.err(item.span(), "'build-env' must be a table of strings"))?;
        for (k, v) in env.iter() {
            let v = v
                .as_str()
                .ok_or_else(|| cx.err(v.span(), format!("build-env '{k}' must be a string")))?;
            // An environment variable's name, and a value exec can pass.
            let name_ok = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name_ok {
                return Err(cx.err(
                    item.span(),
                    format!("build-env '{k}': not a variable name (letters, digits and _, not starting with a digit)"),
                ));
            }
            if v.contains('\0') {
                return Err(cx.err(
                    item.span(),
                    format!("build-env '{k}': a value cannot hold a NUL character"),
                ));
            }
            build_env.insert(k.to_owned(), v.to_owned());
        }
    }
    let foreign_architectures = cx.strings(t, "foreign-architectures", what, false)?;
    if let Some(item) = t.get("foreign-architectures") {
        for (i, a) in foreign_architectures.iter().enumerate() {
            if a == crate::arch::ALL || crate::arch::tuple(a).is_none() {
                let span = item
                    .as_array()
                    .and_then(|arr| arr.get(i))
                    .and_then(|v| v.span());
                return Err(cx.err(
                    span,
                    format!("'{a}' in {what} foreign-architectures is not an architecture dpkg knows (for example i386, arm64, armhf)"),
                ));
            }
        }
    }
    // Every staged name is an [artifact] of this manifest (an imported
    // spec's stage entries resolve in its own manifest).
    let stage = cx.strings(t, "stage", what, false)?;
    for (i, name) in stage.iter().enumerate() {
        if !artifacts.contains_key(name) {
            let span = t
                .get("stage")
                .and_then(Item::as_array)
                .and_then(|arr| arr.get(i))
                .and_then(|v| v.span());
            let defined: Vec<&str> = artifacts.keys().map(String::as_str).collect();
            return Err(cx.err(
                span,
                format!(
                    "{what} stages '{name}', which is not defined: add an [artifact.\"{name}\"] table ({})",
                    if defined.is_empty() {
                        "the manifest defines none".to_owned()
                    } else {
                        format!("defined: {}", defined.join(", "))
                    }
                ),
            ));
        }
    }
    let path_filters = path_filters(cx, t, what)?;
    Ok(Spec {
        extends: cx.strings(t, "extends", what, true)?,
        foreign_architectures,
        include: cx.requirements(t, "include", what, crate::relation::FieldKind::Depends)?,
        exclude: cx.requirements(t, "exclude", what, crate::relation::FieldKind::Conflicts)?,
        variant,
        recommends: cx.boolean(t, "recommends", what)?,
        stage,
        build_env,
        build_script: cx.string(t, "build-script", what)?,
        meta: cx.strings(t, "meta", what, false)?,
        path_filters,
        line: cx.line(t.span()),
    })
}

/// A spec's own path filters, in the order dpkg is given them: the
/// presets of `path-filters`, then `path-exclude`, then `path-include`,
/// each in the order written. An unknown preset or a pattern dpkg could
/// not use is an error at its entry.
fn path_filters(cx: &Ctx<'_>, t: &Table, what: &str) -> Result<PathFilters, ManifestError> {
    let span = |key: &str, i: usize| {
        t.get(key)
            .and_then(Item::as_array)
            .and_then(|arr| arr.get(i))
            .and_then(|v| v.span())
    };
    let mut filters = PathFilters::new();
    for (i, name) in cx
        .strings(t, "path-filters", what, false)?
        .iter()
        .enumerate()
    {
        let preset = Preset::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            cx.err(
                span("path-filters", i),
                format!(
                    "unknown path filter preset '{name}' in {what} (known: {}; or write the globs in 'path-exclude' and 'path-include')",
                    known.join(", ")
                ),
            )
        })?;
        filters.push_preset(preset);
    }
    for (key, action) in [
        ("path-exclude", Action::Exclude),
        ("path-include", Action::Include),
    ] {
        for (i, pattern) in cx.strings(t, key, what, false)?.iter().enumerate() {
            filters
                .push(action, pattern)
                .map_err(|e| cx.err(span(key, i), format!("'{key}' in {what}: {e}")))?;
        }
    }
    Ok(filters)
}
