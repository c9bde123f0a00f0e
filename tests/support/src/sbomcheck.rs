//! The reference validators of the SBOMs rdebootstrap writes: SPDX's
//! `spdx-tools` (`pyspdxtools -i FILE`) and CycloneDX's
//! `cyclonedx-python-lib` with its JSON schema validation (the
//! `json-validation` extra), both Python packages. `.ci/run` installs them
//! into a virtual environment at `target/sbom-venv`; the Python used is
//! `RDEBOOTSTRAP_SBOM_PYTHON`, else that environment's, else `python3` on
//! the `PATH`, whichever first has both.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Imports both validators need.
const PROBE: &str =
    "import spdx_tools.spdx.clitools.pyspdxtools, cyclonedx.validation.json, jsonschema";

/// Validates a CycloneDX 1.6 JSON file against the schema, strictly.
const CYCLONEDX: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
with open(sys.argv[1], encoding="utf-8") as f:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(f.read())
if error is not None:
    print(error, file=sys.stderr)
    sys.exit(1)
"#;

/// A Python that has both validators, if there is one (see the module
/// documentation).
pub fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sbom-venv/bin/python3");
    let candidates = std::env::var_os("RDEBOOTSTRAP_SBOM_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([venv, PathBuf::from("python3")]);
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", PROBE])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    None
}

/// [`python`], or `None` after [`crate::required`] said it is missing
/// (a failure under CI).
pub fn required_python() -> Option<PathBuf> {
    crate::required(
        python(),
        "the SBOM validators (pip install spdx-tools 'cyclonedx-python-lib[json-validation]', \
         as .ci/run does into target/sbom-venv, or set RDEBOOTSTRAP_SBOM_PYTHON)",
    )
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let o = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// Validate the SPDX document `file` with `pyspdxtools -i`.
pub fn validate_spdx(python: &Path, file: &Path) -> Result<(), String> {
    run(
        Command::new(python)
            .args(["-m", "spdx_tools.spdx.clitools.pyspdxtools", "-i"])
            .arg(file),
        &format!("pyspdxtools -i {}", file.display()),
    )
}

/// Validate the CycloneDX 1.6 document `file` against its JSON schema.
pub fn validate_cyclonedx(python: &Path, file: &Path) -> Result<(), String> {
    run(
        Command::new(python).args(["-c", CYCLONEDX]).arg(file),
        &format!("CycloneDX 1.6 schema validation of {}", file.display()),
    )
}
