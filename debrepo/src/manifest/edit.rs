//! Edits of a manifest's text that keep the user's comments and layout
//! (toml_edit), each result checked by parsing it again before it is used.

use std::path::Path;

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use super::{requirement_name, Manifest, ManifestError, Variant};

fn fail(path: &Path, message: impl Into<String>) -> ManifestError {
    ManifestError {
        path: path.to_owned(),
        pos: None,
        message: message.into(),
        source: None,
    }
}

fn doc(text: &str, path: &Path) -> Result<DocumentMut, ManifestError> {
    text.parse::<DocumentMut>().map_err(|e| ManifestError {
        path: path.to_owned(),
        pos: None,
        message: "not valid TOML".into(),
        source: Some(Box::new(e)),
    })
}

/// Check the edited text and return it.
fn finish(d: DocumentMut, path: &Path) -> Result<String, ManifestError> {
    let text = d.to_string();
    Manifest::parse(&text, path)?;
    Ok(text)
}

/// The table of spec `name` (`""` is `[spec]`), created if missing.
fn spec_table<'d>(
    d: &'d mut DocumentMut,
    name: &str,
    create: bool,
    path: &Path,
) -> Result<&'d mut Table, ManifestError> {
    let label = if name.is_empty() {
        "[spec]".to_owned()
    } else {
        format!("[spec.{name}]")
    };
    if !d.contains_key("spec") {
        if !create {
            return Err(fail(path, format!("no {label} in the manifest")));
        }
        let mut t = Table::new();
        t.set_implicit(!name.is_empty());
        d.insert("spec", Item::Table(t));
    }
    let spec = d["spec"]
        .as_table_mut()
        .ok_or_else(|| fail(path, "'spec' is not a table"))?;
    if name.is_empty() {
        spec.set_implicit(false);
        return Ok(spec);
    }
    if !spec.contains_key(name) {
        if !create {
            return Err(fail(path, format!("no {label} in the manifest")));
        }
        spec.insert(name, Item::Table(Table::new()));
    }
    spec[name]
        .as_table_mut()
        .ok_or_else(|| fail(path, format!("{label} is not a table")))
}

/// Add requirements (`key = "include"`) or constraints (`"exclude"`) to a
/// spec, creating it if needed; an entry for the same package is replaced.
pub fn add_to_spec(
    text: &str,
    path: &Path,
    spec: &str,
    key: &str,
    items: &[String],
) -> Result<String, ManifestError> {
    let field = if key == "exclude" {
        crate::relation::FieldKind::Conflicts
    } else {
        crate::relation::FieldKind::Depends
    };
    for i in items {
        if let Some(problem) = super::schema::requirement_problem(field, i) {
            return Err(fail(
                path,
                format!("'{i}' is not a package requirement: {problem}"),
            ));
        }
    }
    let mut d = doc(text, path)?;
    let t = spec_table(&mut d, spec, true, path)?;
    if !t.contains_key(key) {
        t.insert(key, value(Array::new()));
    }
    let arr = t[key]
        .as_array_mut()
        .ok_or_else(|| fail(path, format!("'{key}' is not an array")))?;
    for item in items {
        let name = requirement_name(item);
        let existing = arr
            .iter()
            .position(|v| v.as_str().is_some_and(|s| requirement_name(s) == name));
        match existing {
            Some(i) => {
                arr.replace(i, item.as_str());
            }
            None => arr.push(item.as_str()),
        }
    }
    finish(d, path)
}

/// Remove entries naming these packages from a spec's `include` and
/// `exclude`; it is an error if none of them is there.
pub fn remove_from_spec(
    text: &str,
    path: &Path,
    spec: &str,
    names: &[String],
) -> Result<String, ManifestError> {
    let mut d = doc(text, path)?;
    let t = spec_table(&mut d, spec, false, path)?;
    let mut removed = 0;
    for key in ["include", "exclude"] {
        if let Some(arr) = t.get_mut(key).and_then(Item::as_array_mut) {
            let before = arr.len();
            arr.retain(|v| {
                !v.as_str().is_some_and(|s| {
                    names
                        .iter()
                        .any(|n| requirement_name(s) == requirement_name(n))
                })
            });
            if arr.len() != before {
                // The first remaining element may carry the removed one's
                // spacing: tidy this array only.
                arr.fmt();
                removed += before - arr.len();
            }
        }
    }
    if removed == 0 {
        return Err(fail(
            path,
            format!(
                "none of {} is required or forbidden by this spec",
                names.join(", ")
            ),
        ));
    }
    finish(d, path)
}

/// A new `[[archive]]`.
#[derive(Debug, Clone, Default)]
pub struct NewArchive {
    pub url: Option<String>,
    pub mirror: Option<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    pub signed_by: Option<String>,
    pub allow_insecure: bool,
}

fn archive_table(a: &NewArchive) -> Table {
    let mut t = Table::new();
    if let Some(u) = &a.url {
        t.insert("url", value(u.as_str()));
    }
    if let Some(m) = &a.mirror {
        t.insert("mirror", value(m.as_str()));
    }
    t.insert(
        "suites",
        value(a.suites.iter().map(String::as_str).collect::<Array>()),
    );
    if !a.components.is_empty() {
        t.insert(
            "components",
            value(a.components.iter().map(String::as_str).collect::<Array>()),
        );
    }
    if let Some(k) = &a.signed_by {
        t.insert("signed-by", value(k.as_str()));
    }
    if a.allow_insecure {
        t.insert("allow-insecure", value(true));
    }
    t
}

/// Append an `[[archive]]`.
pub fn add_archive(text: &str, path: &Path, a: &NewArchive) -> Result<String, ManifestError> {
    let mut d = doc(text, path)?;
    if !d.contains_key("archive") {
        d.insert("archive", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    d["archive"]
        .as_array_of_tables_mut()
        .ok_or_else(|| fail(path, "'archive' is not written as [[archive]] tables"))?
        .push(archive_table(a));
    finish(d, path)
}

/// The text of a new manifest.
pub fn new_manifest(
    path: &Path,
    archives: &[NewArchive],
    variant: Variant,
    include: &[String],
) -> Result<String, ManifestError> {
    let mut d = DocumentMut::new();
    d.decor_mut()
        .set_prefix("# Written by rdebootstrap init. Lock it with 'rdebootstrap update'.\n\n");
    let mut arr = ArrayOfTables::new();
    for a in archives {
        arr.push(archive_table(a));
    }
    d.insert("archive", Item::ArrayOfTables(arr));
    let mut spec = Table::new();
    spec.insert("variant", value(variant.name()));
    spec.insert(
        "include",
        value(include.iter().map(String::as_str).collect::<Array>()),
    );
    d.insert("spec", Item::Table(spec));
    finish(d, path)
}

/// What an `[import]` is written from.
#[derive(Debug, Clone, Copy)]
pub enum ImportedFrom<'a> {
    /// `path`, as the manifest gives it (relative to its folder).
    Path(&'a str),
    /// `[import.git]`.
    Git(&'a super::import::source::GitPin),
}

impl ImportedFrom<'_> {
    fn describe(&self) -> String {
        match self {
            ImportedFrom::Path(p) => (*p).to_owned(),
            ImportedFrom::Git(g) => format!("{} at {} in {}", g.path, g.rev, g.remote),
        }
    }

    /// Whether `i` says this already.
    fn same(&self, i: &super::Import) -> bool {
        match (self, &i.git) {
            (ImportedFrom::Path(p), None) => i.path.as_deref() == Some(Path::new(p)),
            (ImportedFrom::Git(g), Some(have)) => {
                i.path.is_none()
                    && have.remote == g.remote
                    && have.rev == g.rev
                    && have.reference == g.reference
                    && have.path == g.path
            }
            _ => false,
        }
    }
}

fn import_table(t: &mut Table, from: ImportedFrom<'_>, hash: &str, specs: &[String]) {
    for k in ["path", "git", "hash", "specs"] {
        t.remove(k);
    }
    if let ImportedFrom::Path(p) = from {
        t.insert("path", value(p));
    }
    t.insert("hash", value(hash));
    t.insert(
        "specs",
        value(specs.iter().map(String::as_str).collect::<Array>()),
    );
    if let ImportedFrom::Git(g) = from {
        let mut gt = Table::new();
        gt.insert("remote", value(g.remote.as_str()));
        gt.insert("rev", value(g.rev.as_str()));
        if let Some(r) = &g.reference {
            gt.insert("ref", value(r.as_str()));
        }
        gt.insert("path", value(g.path.as_str()));
        t.insert("git", Item::Table(gt));
    }
}

/// Write or replace `[import]` (`from` a path as the manifest gives it,
/// relative to its folder, or `[import.git]`; `hash` and `specs` as
/// [`super::import::pin`] checked them). A present `[import]` keeps its
/// place and comments; its `path`, `hash`, `specs` and `[import.git]` are
/// replaced.
pub fn set_import(
    text: &str,
    path: &Path,
    from: ImportedFrom<'_>,
    hash: &str,
    specs: &[String],
) -> Result<Edit, EditError> {
    let before = Manifest::parse(text, path)?;
    let mut d = doc(text, path)?;
    let same = before
        .import
        .as_ref()
        .is_some_and(|i| from.same(i) && i.hash == hash && i.specs == specs);
    let import_path = from.describe();
    if same {
        return Ok(unchanged(
            text,
            vec![format!("[import] pins {import_path} already")],
        ));
    }
    match d.get_mut("import").and_then(Item::as_table_mut) {
        Some(t) => import_table(t, from, hash, specs),
        None => {
            let mut t = Table::new();
            import_table(&mut t, from, hash, specs);
            d.insert("import", Item::Table(t));
        }
    }
    let verb = if before.import.is_some() {
        "replaced"
    } else {
        "added"
    };
    edited(
        d,
        path,
        vec![format!(
            "{verb} [import] of {import_path} ({hash}), exporting {}",
            if specs.is_empty() {
                "no specs".to_owned()
            } else {
                specs.join(", ")
            }
        )],
    )
}

/// The text of a new manifest on top of an imported one: `[import]` and a
/// `[spec]` extending the exported `specs` and including `include`, with
/// `variant` when one is given (else it is inherited).
pub fn new_import_manifest(
    path: &Path,
    from: ImportedFrom<'_>,
    hash: &str,
    specs: &[String],
    variant: Option<Variant>,
    include: &[String],
) -> Result<String, ManifestError> {
    let mut d = DocumentMut::new();
    d.decor_mut()
        .set_prefix("# Written by rdebootstrap init. Lock it with 'rdebootstrap update'.\n\n");
    let mut t = Table::new();
    import_table(&mut t, from, hash, specs);
    d.insert("import", Item::Table(t));
    let mut spec = Table::new();
    spec.insert(
        "extends",
        value(specs.iter().map(String::as_str).collect::<Array>()),
    );
    if let Some(v) = variant {
        spec.insert("variant", value(v.name()));
    }
    spec.insert(
        "include",
        value(include.iter().map(String::as_str).collect::<Array>()),
    );
    d.insert("spec", Item::Table(spec));
    finish(d, path)
}

// ----- Verbs on artifacts, the specs' stage, extends, meta, build-env and
// build-script, local packages and archives. Each takes the manifest's text
// (which must parse), returns the edited text checked by `Manifest::parse`,
// and says what it changed, one line per change.

/// An edit's result: the new text and one line per thing looked at
/// ("added file artifact 'motd' ...", "'vim' is not staged by `[spec]`").
/// With `changed` false the manifest says so already and `text` is the
/// old text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    pub lines: Vec<String>,
    pub changed: bool,
}

/// Why an edit cannot be made. Variants other than `Manifest` are about
/// the arguments of the edit, so a front end can name its flag.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The manifest as it is, or as edited, does not parse (when the old
    /// text parsed, the position is in text that was never written).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "no spec {} in the manifest (defined: {})",
        spec_table_label(name),
        names(defined)
    )]
    NoSpec { name: String, defined: Vec<String> },
    #[error("no artifact '{name}' in the manifest (defined: {})", names(defined))]
    NoArtifact { name: String, defined: Vec<String> },
    #[error("the manifest has an artifact '{name}' already, from {existing}")]
    ArtifactExists { name: String, existing: String },
    #[error("artifact '{name}' is staged by {}: unstage it first (rdebootstrap spec artifact remove -s {} {name})", .specs.iter().map(|s| spec_table_label(s)).collect::<Vec<_>>().join(", "), unstage_spec(specs))]
    ArtifactStaged { name: String, specs: Vec<String> },
    /// The new `extends` would make a spec unresolvable.
    #[error("{0}")]
    Extends(#[source] super::SpecError),
    #[error("no archive {name} in the manifest (archives: {})", names(defined))]
    NoArchive { name: String, defined: Vec<String> },
    /// A value given to the edit is not usable (`what` names it: "meta
    /// key", "build-env name", "artifact name", ...).
    #[error("{what} '{value}': {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: String,
    },
    /// A local `.deb` whose hash was to be refreshed cannot be read.
    #[error("local {} (line {line}): cannot read it", path.display())]
    ReadLocal {
        path: std::path::PathBuf,
        line: usize,
        #[source]
        source: std::io::Error,
    },
    /// A local artifact whose hash was to be refreshed cannot be hashed.
    #[error(transparent)]
    Artifact(#[from] crate::artifact::ArtifactError),
}

/// The `-s` value to suggest: the spec's name when there is one.
fn unstage_spec(specs: &[String]) -> String {
    match specs {
        [one] if !one.is_empty() => one.clone(),
        [one] if one.is_empty() => "''".into(),
        _ => "SPEC".into(),
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// `[spec]` or `[spec.NAME]`, as the table is written.
pub fn spec_table_label(name: &str) -> String {
    if name.is_empty() {
        "[spec]".into()
    } else {
        format!("[spec.{name}]")
    }
}

fn invalid(what: &'static str, value: &str, why: impl Into<String>) -> EditError {
    EditError::Invalid {
        what,
        value: value.to_owned(),
        why: why.into(),
    }
}

/// Parse the text, then check the spec exists (the unnamed `[spec]` is
/// made when missing).
fn open_spec(text: &str, path: &Path, spec: &str) -> Result<(Manifest, DocumentMut), EditError> {
    let m = Manifest::parse(text, path)?;
    if !spec.is_empty() && !m.specs.contains_key(spec) {
        return Err(EditError::NoSpec {
            name: spec.to_owned(),
            defined: m.specs.keys().map(|k| spec_table_label(k)).collect(),
        });
    }
    Ok((m, doc(text, path)?))
}

fn unchanged(text: &str, lines: Vec<String>) -> Edit {
    Edit {
        text: text.to_owned(),
        lines,
        changed: false,
    }
}

fn edited(d: DocumentMut, path: &Path, lines: Vec<String>) -> Result<Edit, EditError> {
    Ok(Edit {
        text: finish(d, path)?,
        lines,
        changed: true,
    })
}

/// The array `key` of a spec's table, created empty when missing.
fn spec_array<'d>(
    d: &'d mut DocumentMut,
    path: &Path,
    spec: &str,
    key: &str,
) -> Result<&'d mut Array, EditError> {
    let t = spec_table(d, spec, true, path)?;
    if !t.contains_key(key) {
        t.insert(key, value(Array::new()));
    }
    Ok(t[key]
        .as_array_mut()
        .ok_or_else(|| fail(path, format!("'{key}' is not an array")))?)
}

/// Drop the spec's `key` when its array has become empty; tidy it else.
fn tidy_array(d: &mut DocumentMut, path: &Path, spec: &str, key: &str) -> Result<(), EditError> {
    let t = spec_table(d, spec, false, path)?;
    if t.get(key)
        .and_then(Item::as_array)
        .is_some_and(Array::is_empty)
    {
        t.remove(key);
    } else if let Some(a) = t.get_mut(key).and_then(Item::as_array_mut) {
        a.fmt();
    }
    Ok(())
}

/// A new `[artifact."NAME"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtifact {
    pub kind: super::ArtifactKind,
    pub target: String,
    /// `http(s)://` or `file://` source.
    pub url: Option<String>,
    /// A path, relative to the manifest's folder unless absolute.
    pub path: Option<String>,
    /// The content of a `text` artifact.
    pub text: Option<String>,
    /// SRI hash (`blake3-...`).
    pub hash: Option<String>,
    /// `false` writes `unpack = false`.
    pub unpack: bool,
}

/// The name of an artifact type in manifests.
pub fn kind_name(k: super::ArtifactKind) -> &'static str {
    use super::ArtifactKind::*;
    match k {
        File => "file",
        Tar => "tar",
        Dir => "dir",
        Text => "text",
    }
}

fn artifact_source(a: &super::Artifact) -> String {
    match &a.source {
        Some(s) => s.clone(),
        None => "inline text".into(),
    }
}

/// Add `[artifact."NAME"]`. An artifact of that name from the same source
/// to the same target is updated (type, hash, unpack, text); one from
/// elsewhere is an error.
pub fn add_artifact(
    text: &str,
    path: &Path,
    name: &str,
    a: &NewArtifact,
) -> Result<Edit, EditError> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(invalid(
            "artifact name",
            name,
            "give a name of visible characters",
        ));
    }
    if a.target.trim().is_empty() {
        return Err(invalid("target", &a.target, "give a path in the tree"));
    }
    let m = Manifest::parse(text, path)?;
    let source = a.url.clone().or_else(|| a.path.clone());
    let mut lines = Vec::new();
    if let Some(old) = m.artifacts.get(name) {
        if old.source != source || old.target != a.target {
            return Err(EditError::ArtifactExists {
                name: name.to_owned(),
                existing: format!("{} to {}", artifact_source(old), old.target),
            });
        }
        if old.kind == a.kind && old.hash == a.hash && old.unpack == a.unpack && old.text == a.text
        {
            return Ok(unchanged(
                text,
                vec![format!("artifact '{name}' is in the manifest already")],
            ));
        }
        if old.hash != a.hash {
            lines.push(format!(
                "changed the hash of artifact '{name}' to {}",
                a.hash.as_deref().unwrap_or("none")
            ));
        }
        if old.kind != a.kind || old.unpack != a.unpack || old.text != a.text {
            lines.push(format!("updated artifact '{name}'"));
        }
    } else {
        lines.push(format!(
            "added {} artifact '{name}' ({} to {})",
            kind_name(a.kind),
            source.as_deref().unwrap_or("inline text"),
            a.target
        ));
    }
    let mut d = doc(text, path)?;
    if !d.contains_key("artifact") {
        let mut t = Table::new();
        t.set_implicit(true);
        d.insert("artifact", Item::Table(t));
    }
    let arts = d["artifact"]
        .as_table_mut()
        .ok_or_else(|| fail(path, "'artifact' is not a table"))?;
    if !arts.get(name).is_some_and(Item::is_table) {
        arts.insert(name, Item::Table(Table::new()));
    }
    let t = arts[name]
        .as_table_mut()
        .ok_or_else(|| fail(path, "an artifact is not a table"))?;
    t.insert("type", value(kind_name(a.kind)));
    t.insert("target", value(a.target.as_str()));
    for (k, v) in [("url", &a.url), ("path", &a.path), ("hash", &a.hash)] {
        match v {
            Some(v) => {
                t.insert(k, value(v.as_str()));
            }
            None => {
                t.remove(k);
            }
        }
    }
    match &a.text {
        Some(s) => {
            t.insert("text", Item::Value(multiline(s)));
        }
        None => {
            t.remove("text");
        }
    }
    if a.unpack {
        t.remove("unpack");
    } else {
        t.insert("unpack", value(false));
    }
    edited(d, path, lines)
}

/// Remove `[artifact."NAME"]`; refused while a spec stages it.
pub fn remove_artifact(text: &str, path: &Path, name: &str) -> Result<Edit, EditError> {
    let m = Manifest::parse(text, path)?;
    if !m.artifacts.contains_key(name) {
        return Err(EditError::NoArtifact {
            name: name.to_owned(),
            defined: m.artifacts.keys().cloned().collect(),
        });
    }
    let specs: Vec<String> = m
        .specs
        .iter()
        .filter(|(_, s)| s.stage.iter().any(|n| n == name))
        .map(|(k, _)| k.clone())
        .collect();
    if !specs.is_empty() {
        return Err(EditError::ArtifactStaged {
            name: name.to_owned(),
            specs,
        });
    }
    let mut d = doc(text, path)?;
    let arts = d["artifact"]
        .as_table_mut()
        .ok_or_else(|| fail(path, "'artifact' is not a table"))?;
    arts.remove(name);
    if arts.is_empty() {
        d.remove("artifact");
    }
    edited(d, path, vec![format!("removed artifact '{name}'")])
}

/// Add artifacts to a spec's `stage` list (`add`), or take them out of it.
/// Staging an artifact the manifest does not define is an error.
pub fn stage(
    text: &str,
    path: &Path,
    spec: &str,
    artifacts: &[String],
    add: bool,
) -> Result<Edit, EditError> {
    let (m, mut d) = open_spec(text, path, spec)?;
    let label = spec_table_label(spec);
    let have = m
        .specs
        .get(spec)
        .map(|s| s.stage.clone())
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut todo: Vec<String> = Vec::new();
    for a in artifacts {
        if add && !m.artifacts.contains_key(a) {
            return Err(EditError::NoArtifact {
                name: a.clone(),
                defined: m.artifacts.keys().cloned().collect(),
            });
        }
        if todo.contains(a) {
            continue;
        }
        match (add, have.contains(a)) {
            (true, true) => lines.push(format!("'{a}' is staged by {label} already")),
            (true, false) => {
                lines.push(format!("staged '{a}' in {label}"));
                todo.push(a.clone());
            }
            (false, true) => {
                lines.push(format!("unstaged '{a}' from {label}"));
                todo.push(a.clone());
            }
            (false, false) => lines.push(format!("'{a}' is not staged by {label}")),
        }
    }
    if todo.is_empty() {
        return Ok(unchanged(text, lines));
    }
    let arr = spec_array(&mut d, path, spec, "stage")?;
    if add {
        for a in &todo {
            arr.push(a.as_str());
        }
    } else {
        arr.retain(|v| !v.as_str().is_some_and(|s| todo.iter().any(|a| a == s)));
        tidy_array(&mut d, path, spec, "stage")?;
    }
    edited(d, path, lines)
}

/// How `spec extend` changes a spec's parents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extends {
    /// Replace the list.
    Set(Vec<String>),
    /// Append parents.
    Add(Vec<String>),
    /// Drop parents.
    Remove(Vec<String>),
    /// No parents.
    Clear,
}

/// Change a spec's `extends`. Every parent must be a spec of the manifest,
/// and every spec that resolved before must still resolve (no cycle, no
/// conflict the new parents bring). One parent stays a plain string when
/// it was one (or there was none), as `extends = "base"`.
pub fn extend(text: &str, path: &Path, spec: &str, op: &Extends) -> Result<Edit, EditError> {
    let (mut m, mut d) = open_spec(text, path, spec)?;
    let label = spec_table_label(spec);
    let old = m
        .specs
        .get(spec)
        .map(|s| s.extends.clone())
        .unwrap_or_default();
    let mut new = old.clone();
    let mut lines = Vec::new();
    match op {
        Extends::Set(list) => new = list.clone(),
        Extends::Clear => new.clear(),
        Extends::Add(list) => {
            for p in list {
                if new.contains(p) {
                    lines.push(format!("{label} extends '{p}' already"));
                } else {
                    new.push(p.clone());
                }
            }
        }
        Extends::Remove(list) => {
            for p in list {
                if !new.contains(p) {
                    lines.push(format!("{label} does not extend '{p}'"));
                }
                new.retain(|x| x != p);
            }
        }
    }
    let mut seen: Vec<&String> = Vec::new();
    for p in &new {
        if p == spec {
            return Err(invalid(
                "parent",
                p,
                format!("{label} cannot extend itself"),
            ));
        }
        if !m.specs.contains_key(p) {
            return Err(EditError::NoSpec {
                name: p.clone(),
                defined: m.specs.keys().map(|k| spec_table_label(k)).collect(),
            });
        }
        if seen.contains(&p) {
            return Err(invalid("parent", p, "listed twice"));
        }
        seen.push(p);
    }
    if new == old {
        if lines.is_empty() {
            lines.push(match old.len() {
                0 => format!("{label} extends no spec already"),
                _ => format!("{label} extends {} already", old.join(", ")),
            });
        }
        return Ok(unchanged(text, lines));
    }
    // Every spec that resolved before must resolve after.
    let before: Vec<String> = m
        .specs
        .keys()
        .filter(|k| m.resolve(k).is_ok())
        .cloned()
        .collect();
    m.specs.entry(spec.to_owned()).or_default().extends = new.clone();
    for k in &before {
        m.resolve(k).map_err(EditError::Extends)?;
    }
    lines.push(match (new.len(), old.len()) {
        (0, _) => format!("{label} extends no spec now (was {})", old.join(", ")),
        (_, 0) => format!("{label} extends {} now", new.join(", ")),
        _ => format!(
            "{label} extends {} now (was {})",
            new.join(", "),
            old.join(", ")
        ),
    });
    let t = spec_table(&mut d, spec, true, path)?;
    let was_string = t.get("extends").is_none_or(|i| i.as_str().is_some());
    let in_place = matches!(op, Extends::Add(_) | Extends::Remove(_));
    match t.get_mut("extends").and_then(Item::as_array_mut) {
        _ if new.is_empty() => {
            t.remove("extends");
        }
        Some(arr) if in_place => {
            arr.retain(|v| v.as_str().is_some_and(|s| new.iter().any(|n| n == s)));
            for p in new.iter().filter(|p| !old.contains(p)) {
                arr.push(p.as_str());
            }
            arr.fmt();
        }
        _ if new.len() == 1 && was_string => {
            t.insert("extends", value(new[0].as_str()));
        }
        _ => {
            t.insert(
                "extends",
                value(new.iter().map(String::as_str).collect::<Array>()),
            );
        }
    }
    edited(d, path, lines)
}

fn meta_key(entry: &str) -> &str {
    entry.split_once(':').map_or(entry, |(k, _)| k)
}

/// Set `KEY:VALUE` (or a bare `KEY`) in a spec's `meta` list, replacing
/// the entries with the same key.
pub fn meta_set(
    text: &str,
    path: &Path,
    spec: &str,
    key: &str,
    val: Option<&str>,
) -> Result<Edit, EditError> {
    let word = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+/".contains(c) || extra.contains(c))
    };
    if !word(key, "") {
        return Err(invalid(
            "meta key",
            key,
            "use letters, digits and - _ . + / (as in apt-lists)",
        ));
    }
    if let Some(v) = val {
        if !word(v, ":") {
            return Err(invalid(
                "meta value",
                v,
                "use letters, digits and - _ . + / : (as in stage)",
            ));
        }
    }
    let entry = match val {
        Some(v) => format!("{key}:{v}"),
        None => key.to_owned(),
    };
    let (m, mut d) = open_spec(text, path, spec)?;
    let label = spec_table_label(spec);
    let have = m
        .specs
        .get(spec)
        .map(|s| s.meta.clone())
        .unwrap_or_default();
    let old: Vec<&str> = have
        .iter()
        .filter(|e| meta_key(e) == key)
        .map(String::as_str)
        .collect();
    if old == [entry.as_str()] {
        return Ok(unchanged(
            text,
            vec![format!("{label} has meta {entry} already")],
        ));
    }
    let line = if old.is_empty() {
        format!("set meta {entry} in {label}")
    } else {
        format!("set meta {entry} in {label} (was {})", old.join(", "))
    };
    let arr = spec_array(&mut d, path, spec, "meta")?;
    let first = arr
        .iter()
        .position(|v| v.as_str().is_some_and(|s| meta_key(s) == key));
    match first {
        Some(i) => {
            arr.replace(i, entry.as_str());
            let mut j = i + 1;
            while j < arr.len() {
                if arr
                    .get(j)
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| meta_key(s) == key)
                {
                    arr.remove(j);
                } else {
                    j += 1;
                }
            }
        }
        None => arr.push(entry.as_str()),
    }
    edited(d, path, vec![line])
}

/// Remove the entries of `KEY` (`KEY` or `KEY:...`) from a spec's `meta`.
pub fn meta_unset(text: &str, path: &Path, spec: &str, key: &str) -> Result<Edit, EditError> {
    let key = meta_key(key);
    let (m, mut d) = open_spec(text, path, spec)?;
    let label = spec_table_label(spec);
    let have = m
        .specs
        .get(spec)
        .map(|s| s.meta.clone())
        .unwrap_or_default();
    let old: Vec<&String> = have.iter().filter(|e| meta_key(e) == key).collect();
    if old.is_empty() {
        return Ok(unchanged(text, vec![format!("{label} has no meta {key}")]));
    }
    let lines = old
        .iter()
        .map(|e| format!("removed meta {e} from {label}"))
        .collect();
    spec_array(&mut d, path, spec, "meta")?
        .retain(|v| v.as_str().is_none_or(|s| meta_key(s) != key));
    tidy_array(&mut d, path, spec, "meta")?;
    edited(d, path, lines)
}

/// Replace a spec's `build-env` with `env` (empty removes the key),
/// keeping the entries that stay as they are written.
pub fn set_build_env(
    text: &str,
    path: &Path,
    spec: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Edit, EditError> {
    for (k, v) in env {
        let mut cs = k.chars();
        let good = cs
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !good {
            return Err(invalid(
                "build-env name",
                k,
                "use letters, digits and _, not starting with a digit",
            ));
        }
        if v.contains('\0') {
            return Err(invalid("build-env value", k, "holds a NUL character"));
        }
    }
    let (m, mut d) = open_spec(text, path, spec)?;
    let label = spec_table_label(spec);
    let have = m
        .specs
        .get(spec)
        .map(|s| s.build_env.clone())
        .unwrap_or_default();
    let mut lines = Vec::new();
    for (k, v) in &have {
        match env.get(k) {
            None => lines.push(format!("removed {k} from the build-env of {label}")),
            Some(n) if n != v => {
                lines.push(format!("set {k}={n} in the build-env of {label} (was {v})"))
            }
            Some(_) => {}
        }
    }
    for (k, v) in env {
        if !have.contains_key(k) {
            lines.push(format!("set {k}={v} in the build-env of {label}"));
        }
    }
    if lines.is_empty() {
        return Ok(unchanged(
            text,
            vec![format!("the build-env of {label} is as given already")],
        ));
    }
    let t = spec_table(&mut d, spec, true, path)?;
    if env.is_empty() {
        t.remove("build-env");
        return edited(d, path, lines);
    }
    if !t.contains_key("build-env") {
        t.insert("build-env", value(toml_edit::InlineTable::new()));
    }
    let e = t["build-env"]
        .as_table_like_mut()
        .ok_or_else(|| fail(path, "'build-env' is not a table"))?;
    for k in have.keys().filter(|k| !env.contains_key(*k)) {
        e.remove(k);
    }
    for (k, v) in env {
        if have.get(k) != Some(v) {
            e.insert(k, value(v.as_str()));
        }
    }
    if let Some(i) = t["build-env"].as_inline_table_mut() {
        i.fmt();
    }
    edited(d, path, lines)
}

/// Set a spec's `build-script` (`None` or blank removes it).
pub fn set_build_script(
    text: &str,
    path: &Path,
    spec: &str,
    script: Option<&str>,
) -> Result<Edit, EditError> {
    let script = script.filter(|s| !s.trim().is_empty());
    let (m, mut d) = open_spec(text, path, spec)?;
    let label = spec_table_label(spec);
    let have = m.specs.get(spec).and_then(|s| s.build_script.clone());
    if have.as_deref() == script {
        return Ok(unchanged(
            text,
            vec![format!("the build-script of {label} is as given already")],
        ));
    }
    let t = spec_table(&mut d, spec, true, path)?;
    let line = match script {
        None => {
            t.remove("build-script");
            format!("removed the build-script of {label}")
        }
        Some(s) => {
            t.insert("build-script", Item::Value(multiline(s)));
            match have {
                None => format!("added a build-script to {label}"),
                Some(_) => format!("changed the build-script of {label}"),
            }
        }
    };
    edited(d, path, vec![line])
}

/// A string value written as a `'''` block when it spans lines and can be
/// (no `'''` inside, no control characters but tab and newline), else as
/// toml_edit writes strings.
fn multiline(s: &str) -> toml_edit::Value {
    let plain = toml_edit::Value::from(s);
    if !s.contains('\n')
        || s.contains("'''")
        || s.ends_with('\'')
        || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return plain;
    }
    // TOML drops a newline right after the opening '''; the content then
    // starts on its own line and stays as it is.
    let literal = format!("'''\n{s}'''");
    match literal.parse::<toml_edit::Value>() {
        Ok(v) if v.as_str() == Some(s) => v,
        _ => plain,
    }
}

/// Record a local `.deb` (`[[local]]`: `path`, and `hash` in the form
/// `update` checks, `sha256-BASE64`). The same path again updates its hash.
pub fn add_local(text: &str, path: &Path, deb: &str, hash: &str) -> Result<Edit, EditError> {
    if deb.trim().is_empty() {
        return Err(invalid("path", deb, "give the path of a .deb"));
    }
    let m = Manifest::parse(text, path)?;
    let mut d = doc(text, path)?;
    if let Some(i) = m.locals.iter().position(|l| l.path == Path::new(deb)) {
        if m.locals[i].hash.as_deref() == Some(hash) {
            return Ok(unchanged(
                text,
                vec![format!("the manifest has local {deb} already")],
            ));
        }
        let t = d["local"]
            .as_array_of_tables_mut()
            .and_then(|a| a.get_mut(i))
            .ok_or_else(|| fail(path, "'local' is not written as [[local]] tables"))?;
        t.insert("hash", value(hash));
        return edited(
            d,
            path,
            vec![format!("changed the hash of local {deb} to {hash}")],
        );
    }
    if !d.contains_key("local") {
        d.insert("local", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let mut t = Table::new();
    t.insert("path", value(deb));
    t.insert("hash", value(hash));
    d["local"]
        .as_array_of_tables_mut()
        .ok_or_else(|| fail(path, "'local' is not written as [[local]] tables"))?
        .push(t);
    edited(d, path, vec![format!("added local {deb} ({hash})")])
}

/// `update --locals`: every hash the manifest records for content it
/// names on disk is set to that content's hash now: a `[[local]]` .deb's
/// `hash`, and a local or `text` artifact's `hash` (computed with the
/// algorithm the old hash used). Entries without a hash and URL artifacts
/// are left alone (the lock records their hashes at `update`).
pub fn refresh_local_hashes(text: &str, path: &Path) -> Result<Edit, EditError> {
    use crate::artifact::{hash_path, source_of, Hasher, Source, Sri};
    let m = Manifest::parse(text, path)?;
    let mut d = doc(text, path)?;
    let mut lines = Vec::new();
    for (i, l) in m.locals.iter().enumerate() {
        let Some(old) = &l.hash else { continue };
        let file = m.dir().join(&l.path);
        let bytes = std::fs::read(&file).map_err(|source| EditError::ReadLocal {
            path: file.clone(),
            line: l.line,
            source,
        })?;
        let new = local_deb_hash(&bytes);
        if *old == new {
            continue;
        }
        d["local"]
            .as_array_of_tables_mut()
            .and_then(|a| a.get_mut(i))
            .ok_or_else(|| fail(path, "'local' is not written as [[local]] tables"))?
            .insert("hash", value(new.as_str()));
        lines.push(format!("local {}: hash {old} -> {new}", l.path.display()));
    }
    for (name, a) in &m.artifacts {
        let Some(old) = &a.hash else { continue };
        let algo = Sri::parse(old)
            .map_err(|source| crate::artifact::ArtifactError::BadHash {
                name: name.clone(),
                line: a.line,
                source,
            })?
            .algo;
        let new = match source_of(&m, name, a)? {
            Source::Url(_) => continue,
            Source::Local(p) => hash_path(&p, algo)?,
            Source::Text => {
                let mut h = Hasher::new(algo);
                h.update(a.text.as_deref().unwrap_or_default().as_bytes());
                h.finish()
            }
        }
        .to_string();
        if *old == new {
            continue;
        }
        d["artifact"][name.as_str()]
            .as_table_mut()
            .ok_or_else(|| fail(path, "an artifact is not a table"))?
            .insert("hash", value(new.as_str()));
        lines.push(format!("artifact '{name}': hash {old} -> {new}"));
    }
    if lines.is_empty() {
        return Ok(unchanged(text, lines));
    }
    edited(d, path, lines)
}

/// A local `.deb`'s hash in the form `[[local]]` records and `update`
/// checks: `sha256-` and the digest in standard base64.
pub fn local_deb_hash(data: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(crate::hash::sha256(data).as_bytes())
    )
}

/// How an archive is named in messages: its URL or `mirror NAME`, and its
/// suites.
fn archive_label(a: &super::ArchiveDecl) -> String {
    let at = match (&a.url, &a.mirror) {
        (Some(u), _) => u.clone(),
        (None, Some(m)) => format!("mirror {m}"),
        (None, None) => String::new(),
    };
    format!("{at} (suites {})", a.suites.join(", "))
}

/// Remove every `[[archive]]` whose `url` is `which` (a trailing `/` does
/// not matter) or whose `mirror` is `which` (a vendor name such as
/// `debian-security`).
pub fn remove_archive(text: &str, path: &Path, which: &str) -> Result<Edit, EditError> {
    let m = Manifest::parse(text, path)?;
    let norm = |s: &str| s.trim_end_matches('/').to_owned();
    let hits: Vec<usize> = m
        .archives
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.url.as_deref().map(norm) == Some(norm(which)) || a.mirror.as_deref() == Some(which)
        })
        .map(|(i, _)| i)
        .collect();
    if hits.is_empty() {
        return Err(EditError::NoArchive {
            name: which.to_owned(),
            defined: m
                .archives
                .iter()
                .map(|a| {
                    a.url
                        .clone()
                        .or_else(|| a.mirror.clone())
                        .unwrap_or_default()
                })
                .collect(),
        });
    }
    let mut d = doc(text, path)?;
    let arr = d["archive"]
        .as_array_of_tables_mut()
        .ok_or_else(|| fail(path, "'archive' is not written as [[archive]] tables"))?;
    for &i in hits.iter().rev() {
        arr.remove(i);
    }
    if arr.is_empty() {
        d.remove("archive");
    }
    let lines = hits
        .iter()
        .map(|&i| format!("removed archive {}", archive_label(&m.archives[i])))
        .collect();
    edited(d, path, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# my manifest\n[[archive]]\nmirror = \"debian\" # the vendor mirror\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\n\n# the base spec\n[spec]\nvariant = \"minbase\"\ninclude = [\"curl\"] # keep curl\n";

    fn p() -> &'static Path {
        Path::new("Manifest.toml")
    }

    #[test]
    fn edits_keep_comments() {
        let t = add_to_spec(
            TEXT,
            p(),
            "",
            "include",
            &["vim".into(), "curl (>= 8)".into()],
        )
        .unwrap();
        assert!(
            t.contains("# my manifest")
                && t.contains("# the vendor mirror")
                && t.contains("# the base spec")
                && t.contains("# keep curl"),
            "{t}"
        );
        let m = Manifest::parse(&t, p()).unwrap();
        assert_eq!(m.specs[""].include, ["curl (>= 8)", "vim"]);
        let t = add_to_spec(
            &t,
            p(),
            "web",
            "exclude",
            &["systemd-hwe (= 255.5-1)".into()],
        )
        .unwrap();
        let m = Manifest::parse(&t, p()).unwrap();
        assert_eq!(m.specs["web"].exclude, ["systemd-hwe (= 255.5-1)"]);
        let t = remove_from_spec(&t, p(), "", &["curl".into()]).unwrap();
        assert_eq!(Manifest::parse(&t, p()).unwrap().specs[""].include, ["vim"]);
        assert!(t.contains("# the base spec"));
        let e = remove_from_spec(&t, p(), "", &["nano".into()]).unwrap_err();
        assert!(e.to_string().contains("none of nano is required"), "{e}");
        let e = add_to_spec(TEXT, p(), "", "include", &["bad name!".into()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("'bad name!' is not a package requirement"),
            "{e}"
        );
    }

    #[test]
    fn archives_and_new_manifests() {
        let a = NewArchive {
            url: Some("http://127.0.0.1:8080/extra".into()),
            suites: vec!["stable".into()],
            components: vec!["main".into(), "contrib".into()],
            signed_by: Some("extra.asc".into()),
            ..NewArchive::default()
        };
        let t = add_archive(TEXT, p(), &a).unwrap();
        let m = Manifest::parse(&t, p()).unwrap();
        assert_eq!(m.archives.len(), 2);
        assert_eq!(m.archives[1].components, ["main", "contrib"]);
        assert!(t.contains("# the vendor mirror"));
        // An invalid archive is refused before anything is written.
        let bad = NewArchive {
            url: Some("http://x.invalid/".into()),
            suites: vec!["s".into()],
            ..NewArchive::default()
        };
        assert!(add_archive(TEXT, p(), &bad)
            .unwrap_err()
            .to_string()
            .contains("needs 'components'"));
        let t = new_manifest(
            p(),
            &[NewArchive {
                mirror: Some("debian".into()),
                suites: vec!["trixie".into(), "trixie-updates".into()],
                components: vec!["main".into()],
                ..NewArchive::default()
            }],
            Variant::Minbase,
            &["ca-certificates".into()],
        )
        .unwrap();
        let m = Manifest::parse(&t, p()).unwrap();
        assert_eq!(m.specs[""].variant, Some(Variant::Minbase));
        assert_eq!(m.archives[0].suites, ["trixie", "trixie-updates"]);
        assert!(t.starts_with("# Written by rdebootstrap init."), "{t}");
    }

    const SPECS: &str = "# top\n[[archive]]\nmirror = \"debian\"\nsuites = [\"trixie\"]\n\n[[archive]]\nurl = \"http://127.0.0.1:1/extra/\" # extra\nsuites = [\"stable\"]\ncomponents = [\"main\"]\n\n[artifact.\"motd\"]\ntype = \"text\"\ntarget = \"/etc/motd\"\ntext = \"hello\\n\"\n\n[spec]\nvariant = \"minbase\" # base\n\n[spec.tools]\ninclude = [\"tar\"]\n\n[spec.extras]\nextends = \"tools\" # one parent\ninclude = [\"rsync\"]\n\n[spec.web]\ninclude = [\"nginx\"]\n";

    fn parsed(t: &str) -> Manifest {
        Manifest::parse(t, p()).unwrap()
    }

    #[test]
    fn artifacts_add_update_remove() {
        let a = NewArtifact {
            kind: crate::manifest::ArtifactKind::File,
            target: "/etc/app.conf".into(),
            url: None,
            path: Some("files/app.conf".into()),
            text: None,
            hash: Some("blake3-AAAA".into()),
            unpack: true,
        };
        let e = add_artifact(SPECS, p(), "app.conf", &a).unwrap();
        assert!(e.changed && e.lines[0].starts_with("added file artifact 'app.conf'"));
        assert!(
            e.text.contains("[artifact.\"app.conf\"]") && e.text.contains("# extra"),
            "{}",
            e.text
        );
        let m = parsed(&e.text);
        assert_eq!(
            m.artifacts["app.conf"].source.as_deref(),
            Some("files/app.conf")
        );
        // The same again: nothing to change; a new hash: updated.
        assert!(!add_artifact(&e.text, p(), "app.conf", &a).unwrap().changed);
        let b = NewArtifact {
            hash: Some("blake3-BBBB".into()),
            unpack: false,
            ..a.clone()
        };
        let e2 = add_artifact(&e.text, p(), "app.conf", &b).unwrap();
        assert!(e2.lines[0].contains("changed the hash"), "{:?}", e2.lines);
        let m = parsed(&e2.text);
        assert!(!m.artifacts["app.conf"].unpack);
        // Another source under the same name is refused.
        let c = NewArtifact {
            path: Some("other".into()),
            ..a.clone()
        };
        assert!(matches!(
            add_artifact(&e.text, p(), "app.conf", &c),
            Err(EditError::ArtifactExists { .. })
        ));
        // A text artifact over several lines is a literal block.
        let t = NewArtifact {
            kind: crate::manifest::ArtifactKind::Text,
            target: "/etc/issue".into(),
            url: None,
            path: None,
            text: Some("line 1\nline 2\n".into()),
            hash: None,
            unpack: true,
        };
        let e3 = add_artifact(SPECS, p(), "issue", &t).unwrap();
        assert!(
            e3.text.contains("text = '''\nline 1\nline 2\n'''"),
            "{}",
            e3.text
        );
        assert_eq!(
            parsed(&e3.text).artifacts["issue"].text.as_deref(),
            Some("line 1\nline 2\n")
        );
        // Staged artifacts cannot be removed; unstaged ones can.
        let s = stage(SPECS, p(), "web", &["motd".into()], true).unwrap();
        match remove_artifact(&s.text, p(), "motd") {
            Err(e @ EditError::ArtifactStaged { .. }) => {
                assert!(e.to_string().contains("[spec.web]"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let r = remove_artifact(SPECS, p(), "motd").unwrap();
        assert!(
            parsed(&r.text).artifacts.is_empty() && !r.text.contains("[artifact"),
            "{}",
            r.text
        );
        assert!(matches!(
            remove_artifact(SPECS, p(), "nosuch"),
            Err(EditError::NoArtifact { .. })
        ));
    }

    #[test]
    fn staging() {
        let e = stage(SPECS, p(), "web", &["motd".into(), "motd".into()], true).unwrap();
        assert_eq!(e.lines, ["staged 'motd' in [spec.web]"]);
        assert_eq!(parsed(&e.text).specs["web"].stage, ["motd"]);
        let again = stage(&e.text, p(), "web", &["motd".into()], true).unwrap();
        assert!(!again.changed && again.text == e.text);
        let off = stage(&e.text, p(), "web", &["motd".into(), "x".into()], false).unwrap();
        assert_eq!(
            off.lines,
            [
                "unstaged 'motd' from [spec.web]",
                "'x' is not staged by [spec.web]"
            ]
        );
        assert!(!off.text.contains("stage"), "{}", off.text);
        assert!(matches!(
            stage(SPECS, p(), "web", &["nosuch".into()], true),
            Err(EditError::NoArtifact { .. })
        ));
        assert!(matches!(
            stage(SPECS, p(), "nosuch", &["motd".into()], true),
            Err(EditError::NoSpec { .. })
        ));
        // The unnamed [spec] is fine.
        let e = stage(SPECS, p(), "", &["motd".into()], true).unwrap();
        assert_eq!(parsed(&e.text).specs[""].stage, ["motd"]);
        assert!(e.text.contains("# base"));
    }

    #[test]
    fn extending() {
        // One parent added to none: a string, as extends = "base".
        let e = extend(SPECS, p(), "web", &Extends::Add(vec!["tools".into()])).unwrap();
        assert!(
            e.text
                .contains("[spec.web]\ninclude = [\"nginx\"]\nextends = \"tools\""),
            "{}",
            e.text
        );
        // A second makes an array.
        let e = extend(&e.text, p(), "web", &Extends::Add(vec!["extras".into()])).unwrap();
        assert_eq!(parsed(&e.text).specs["web"].extends, ["tools", "extras"]);
        let e = extend(&e.text, p(), "web", &Extends::Remove(vec!["tools".into()])).unwrap();
        assert_eq!(parsed(&e.text).specs["web"].extends, ["extras"]);
        let e = extend(&e.text, p(), "web", &Extends::Clear).unwrap();
        assert!(parsed(&e.text).specs["web"].extends.is_empty());
        assert!(!e.text.contains("extends = [\"extras\"]"), "{}", e.text);
        // Replacing a string keeps a string.
        let e = extend(SPECS, p(), "extras", &Extends::Set(vec!["web".into()])).unwrap();
        assert!(
            e.text.contains("[spec.extras]\nextends = \"web\""),
            "{}",
            e.text
        );
        // Cycles, unknown parents, itself.
        match extend(SPECS, p(), "tools", &Extends::Add(vec!["extras".into()])) {
            Err(e @ EditError::Extends(_)) => assert!(e.to_string().contains("cycle"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            extend(SPECS, p(), "web", &Extends::Add(vec!["nosuch".into()])),
            Err(EditError::NoSpec { .. })
        ));
        assert!(matches!(
            extend(SPECS, p(), "web", &Extends::Set(vec!["web".into()])),
            Err(EditError::Invalid { .. })
        ));
        let same = extend(SPECS, p(), "extras", &Extends::Add(vec!["tools".into()])).unwrap();
        assert!(!same.changed, "{same:?}");
    }

    #[test]
    fn meta_env_script() {
        let e = meta_set(SPECS, p(), "web", "apt-lists", Some("stage")).unwrap();
        assert_eq!(parsed(&e.text).specs["web"].meta, ["apt-lists:stage"]);
        assert!(
            !meta_set(&e.text, p(), "web", "apt-lists", Some("stage"))
                .unwrap()
                .changed
        );
        let e2 = meta_set(&e.text, p(), "web", "apt-lists", Some("none")).unwrap();
        assert_eq!(
            e2.lines,
            ["set meta apt-lists:none in [spec.web] (was apt-lists:stage)"]
        );
        let u = meta_unset(&e2.text, p(), "web", "apt-lists").unwrap();
        assert!(parsed(&u.text).specs["web"].meta.is_empty() && !u.text.contains("meta"));
        assert!(!meta_unset(SPECS, p(), "web", "apt-lists").unwrap().changed);
        assert!(matches!(
            meta_set(SPECS, p(), "web", "a b", None),
            Err(EditError::Invalid { .. })
        ));

        let mut env = std::collections::BTreeMap::new();
        env.insert("LANG".to_owned(), "C.UTF-8".to_owned());
        env.insert("A".to_owned(), "x=y z".to_owned());
        let e = set_build_env(SPECS, p(), "tools", &env).unwrap();
        assert_eq!(parsed(&e.text).specs["tools"].build_env, env);
        env.remove("A");
        let e = set_build_env(&e.text, p(), "tools", &env).unwrap();
        assert_eq!(e.lines, ["removed A from the build-env of [spec.tools]"]);
        let e = set_build_env(&e.text, p(), "tools", &Default::default()).unwrap();
        assert!(!e.text.contains("build-env"));
        let mut bad = std::collections::BTreeMap::new();
        bad.insert("1X".to_owned(), String::new());
        assert!(matches!(
            set_build_env(SPECS, p(), "tools", &bad),
            Err(EditError::Invalid { .. })
        ));

        let script = "set -e\necho 'hi' > /etc/hi\n";
        let e = set_build_script(SPECS, p(), "tools", Some(script)).unwrap();
        assert!(
            e.text.contains("build-script = '''\nset -e\n"),
            "{}",
            e.text
        );
        assert_eq!(
            parsed(&e.text).specs["tools"].build_script.as_deref(),
            Some(script)
        );
        // One with a triple quote or ending in a quote cannot be a literal
        // block; it still comes back as it was.
        let odd = "echo '''\necho 'x'";
        let e2 = set_build_script(&e.text, p(), "tools", Some(odd)).unwrap();
        assert_eq!(
            parsed(&e2.text).specs["tools"].build_script.as_deref(),
            Some(odd)
        );
        let e3 = set_build_script(&e2.text, p(), "tools", None).unwrap();
        assert!(!e3.text.contains("build-script"));
    }

    #[test]
    fn locals_and_archive_removal() {
        let e = add_local(SPECS, p(), "debs/a.deb", "sha256-AAAA").unwrap();
        assert_eq!(
            parsed(&e.text).locals[0].hash.as_deref(),
            Some("sha256-AAAA")
        );
        assert!(
            !add_local(&e.text, p(), "debs/a.deb", "sha256-AAAA")
                .unwrap()
                .changed
        );
        let e2 = add_local(&e.text, p(), "debs/a.deb", "sha256-BBBB").unwrap();
        let m = parsed(&e2.text);
        assert_eq!(
            (m.locals.len(), m.locals[0].hash.as_deref()),
            (1, Some("sha256-BBBB"))
        );

        let r = remove_archive(SPECS, p(), "http://127.0.0.1:1/extra").unwrap();
        assert_eq!(
            r.lines,
            ["removed archive http://127.0.0.1:1/extra/ (suites stable)"]
        );
        let m = parsed(&r.text);
        assert_eq!(m.archives.len(), 1);
        assert!(
            r.text.contains("# top") && !r.text.contains("# extra"),
            "{}",
            r.text
        );
        let r = remove_archive(&r.text, p(), "debian").unwrap();
        assert!(parsed(&r.text).archives.is_empty());
        match remove_archive(SPECS, p(), "http://nosuch/") {
            Err(e @ EditError::NoArchive { .. }) => {
                assert!(e.to_string().contains("debian"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
