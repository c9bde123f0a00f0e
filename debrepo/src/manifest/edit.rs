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
    for i in items {
        crate::relation::parse(crate::relation::FieldKind::Depends, i)
            .map_err(|e| fail(path, format!("'{i}' is not a package requirement: {e}")))?;
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
}
