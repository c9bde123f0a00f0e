//! OCI images: an image layout directory (`oci`) and a tar of one
//! (`oci-archive`), written from uncompressed layer tars.
//!
//! # Layout
//!
//! [`write_layout`] writes an [OCI image layout]:
//!
//! ```text
//! DIR/oci-layout              {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json              one manifest, tagged ImageConfig::ref_name
//! DIR/blobs/sha256/<hex>      manifest, config and one gzip blob per layer
//! ```
//!
//! The manifest lists the layers in the order given (base first) as
//! `application/vnd.oci.image.layer.v1.tar+gzip`, and carries the annotations
//! `org.opencontainers.image.created`, [`ANNOTATION_LOCK_HASH`] and
//! [`ANNOTATION_SPEC_HASH`] (when given) and the caller's own. The config has
//! the architecture mapped from the Debian name to Go's ([`go_platform`]:
//! `armhf` is `arm` variant `v7`), `os` `linux`, `Env` (a default `PATH`),
//! `rootfs.diff_ids` (the SHA-256 of each *uncompressed* layer tar) and one
//! history entry per layer. [`write_archive`] writes the same layout as a tar
//! file, as `skopeo` reads with `oci-archive:FILE`.
//!
//! A layer comes from a tar file, a reader, or a callback that writes the
//! tar into the sink it is given ([`LayerSource::from_writer`]: the layer is
//! hashed and compressed as it is written, with no uncompressed copy):
//!
//! ```no_run
//! use debrepo::oci::{write_layout, ImageConfig, LayerSource};
//! use std::path::Path;
//!
//! let mut config = ImageConfig::new("amd64", 1_700_000_000);
//! config.spec_hash = Some("…".into());
//! let base = LayerSource::from_path("base.tar");
//! let child = LayerSource::from_writer(|w| {
//!     // write the child's difference from its parent as a tar into `w`
//!     Ok(w.write_all(b"")?)
//! })
//! .with_history("rdebootstrap", Some("spec child".into()));
//! let digests = write_layout(Path::new("image"), &[base, child], &config)?;
//! println!("{}", digests.manifest.oci_digest());
//! # Ok::<(), debrepo::oci::OciError>(())
//! ```
//!
//! # Determinism
//!
//! The same layer tars and [`ImageConfig`] give the same bytes, so the same
//! digests, on every run and machine:
//!
//! - every time stamp (`created` in the config, its history and the
//!   `org.opencontainers.image.created` annotation) is
//!   [`ImageConfig::source_date_epoch`] in RFC 3339 (`1970-01-01T00:00:00Z`
//!   form, UTC, no fraction); nothing reads the clock;
//! - JSON is compact with the keys of every object sorted (the `oci-spec`
//!   types keep annotations and labels in hash maps, so their values are
//!   re-ordered before writing);
//! - layers are compressed with `flate2` at the fixed level
//!   [`GZIP_LEVEL`], a gzip header with no file name, modification time 0 and
//!   operating system 255 ("unknown"). The compressed bytes depend on the
//!   `flate2` back end and version (pinned by `Cargo.lock`), not on the
//!   machine; a layer with the same tar has the same blob digest in every
//!   image, which is what lets images share a base layer;
//! - the archive lists its entries sorted by name (`blobs/`, `blobs/sha256/`,
//!   the blobs, `index.json`, `oci-layout`) as ustar entries owned by
//!   `0:0` (`root`), directories `0755`, files `0644`, all with the
//!   modification time [`ImageConfig::source_date_epoch`].
//!
//! What goes into the layer tars (their order, owners and times) is the
//! caller's: this module only compresses and hashes them.
//!
//! # Referrers
//!
//! [`ImageConfig::referrers`] (an SBOM, say) are stored as OCI 1.1
//! artifacts that refer to the image: for each, its bytes as a blob, and a
//! manifest with the referrer's `artifactType`, the empty config
//! (`application/vnd.oci.empty.v1+json`, `{}`), that blob as its one
//! layer, and a `subject` naming the image's manifest. `index.json` lists
//! the image's manifest first (with its tag), then the referrers'
//! manifests (with their `artifactType`, without a tag), in the given
//! order; a client that asks for the tag gets the image.
//!
//! # Atomicity
//!
//! Everything is written under a temporary name beside the target (blobs
//! too, each renamed to its digest once complete) and renamed onto the
//! target at the end; a failure removes what was written and leaves the
//! target as it was. An existing layout directory (or an empty directory)
//! at the target is replaced with one atomic exchange; any other existing
//! directory is refused.
//!
//! [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest as OciDigest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType,
    OciLayoutBuilder, Os, PlatformBuilder, RootFsBuilder, ANNOTATION_CREATED, ANNOTATION_REF_NAME,
};
use sha2::Digest as _;

use crate::hash::Sha256;

/// The manifest annotation with the lock's hash.
pub const ANNOTATION_LOCK_HASH: &str = "rdebootstrap.lock.hash";
/// The manifest annotation with the spec's hash (`lock::spec_hash`).
pub const ANNOTATION_SPEC_HASH: &str = "rdebootstrap.spec.hash";
/// The `PATH` of [`ImageConfig::new`]'s `Env` (Debian's for root).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The tag of [`ImageConfig::new`] (`org.opencontainers.image.ref.name`).
pub const DEFAULT_REF_NAME: &str = "latest";
/// The gzip level of every layer blob (part of the blobs' identity).
pub const GZIP_LEVEL: u32 = 6;
/// The `created_by` of a layer's history entry unless the layer says.
pub const DEFAULT_CREATED_BY: &str = "rdebootstrap";

/// The error a layer's writer callback returns.
pub type BoxError = Box<dyn StdError + Send + Sync>;
type WriteFn = dyn Fn(&mut dyn Write) -> Result<(), BoxError> + Send + Sync;

/// An error writing an image.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// Debian architecture with no OCI (Go) name known here.
    #[error("architecture '{arch}' has no OCI platform name known to rdebootstrap")]
    UnknownArch { arch: String },
    /// A file system operation on the output failed.
    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading the uncompressed tar of a layer failed.
    #[error("layer {index} ({what}): reading its tar")]
    LayerRead {
        index: usize,
        what: String,
        #[source]
        source: io::Error,
    },
    /// The callback writing a layer's tar failed.
    #[error("layer {index} ({what}): writing its tar")]
    LayerWrite {
        index: usize,
        what: String,
        #[source]
        source: BoxError,
    },
    /// A reader layer was already read by an earlier call.
    #[error("layer {index}: its reader was already used by an earlier image")]
    ReaderUsed { index: usize },
    /// The target exists and is neither an image layout nor empty.
    #[error("{}: exists and is not an OCI image layout (nor empty): not replacing it", path.display())]
    TargetNotLayout { path: PathBuf },
    /// The target of an archive is a directory.
    #[error("{}: is a directory", path.display())]
    TargetIsDir { path: PathBuf },
    /// The target path has no file name (`/`, `..`).
    #[error("{}: not a path to write an image at", path.display())]
    BadTarget { path: PathBuf },
    /// oci-spec refused a value (a digest, a missing field).
    #[error("building the image's {what}")]
    Spec {
        what: &'static str,
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// Serializing JSON failed.
    #[error("serializing the image's {what}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OciError {
    let path = path.to_owned();
    move |source| OciError::Io {
        action,
        path,
        source,
    }
}

fn spec_err(what: &'static str) -> impl FnOnce(oci_spec::OciSpecError) -> OciError {
    move |source| OciError::Spec { what, source }
}

enum SourceKind {
    Path(PathBuf),
    Reader(Mutex<Option<Box<dyn Read + Send>>>),
    Writer(Box<WriteFn>),
}

/// One layer: where its uncompressed tar comes from, and its history entry.
pub struct LayerSource {
    kind: SourceKind,
    created_by: String,
    comment: Option<String>,
}

impl std::fmt::Debug for LayerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerSource")
            .field("source", &self.what())
            .field("created_by", &self.created_by)
            .field("comment", &self.comment)
            .finish()
    }
}

impl LayerSource {
    /// A layer whose uncompressed tar is the file at `path` (read once
    /// per image; the file may be removed afterwards).
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self::new(SourceKind::Path(path.into()))
    }

    /// A layer read from `reader` (an uncompressed tar). A reader can be
    /// read once: a second image from the same source fails with
    /// [`OciError::ReaderUsed`].
    pub fn from_reader(reader: impl Read + Send + 'static) -> Self {
        Self::new(SourceKind::Reader(Mutex::new(Some(Box::new(reader)))))
    }

    /// A layer whose uncompressed tar `write` writes into the sink it is
    /// given (hashed and compressed on the fly, never stored uncompressed).
    /// It is called once per image written.
    pub fn from_writer(
        write: impl Fn(&mut dyn Write) -> Result<(), BoxError> + Send + Sync + 'static,
    ) -> Self {
        Self::new(SourceKind::Writer(Box::new(write)))
    }

    fn new(kind: SourceKind) -> Self {
        LayerSource {
            kind,
            created_by: DEFAULT_CREATED_BY.to_owned(),
            comment: None,
        }
    }

    /// Set the layer's history entry (`created_by`, and a `comment` such as
    /// the spec that made the layer).
    pub fn with_history(mut self, created_by: impl Into<String>, comment: Option<String>) -> Self {
        self.created_by = created_by.into();
        self.comment = comment;
        self
    }

    fn what(&self) -> String {
        match &self.kind {
            SourceKind::Path(p) => p.display().to_string(),
            SourceKind::Reader(_) => "a reader".to_owned(),
            SourceKind::Writer(_) => "a writer".to_owned(),
        }
    }
}

/// What goes into the image besides its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// Debian architecture name (`amd64`, `armhf`, ...), mapped by
    /// [`go_platform`].
    pub arch: String,
    /// Seconds since 1970 (`SOURCE_DATE_EPOCH`): every time stamp of the
    /// image. Negative values are written as 0.
    pub source_date_epoch: i64,
    /// The config's `Env` (`NAME=value`).
    pub env: Vec<String>,
    /// The config's `Cmd`, if any.
    pub cmd: Option<Vec<String>>,
    /// The config's `Labels`.
    pub labels: BTreeMap<String, String>,
    /// Value of [`ANNOTATION_LOCK_HASH`].
    pub lock_hash: Option<String>,
    /// Value of [`ANNOTATION_SPEC_HASH`].
    pub spec_hash: Option<String>,
    /// More manifest annotations (they override the ones above).
    pub annotations: BTreeMap<String, String>,
    /// Artifacts stored beside the image that refer to it (see the module
    /// documentation), in this order.
    pub referrers: Vec<Referrer>,
    /// The tag in `index.json` (`org.opencontainers.image.ref.name`), as
    /// `umoci` and `skopeo` name it with `DIR:TAG`.
    pub ref_name: Option<String>,
}

impl ImageConfig {
    /// An image for Debian architecture `arch` at `source_date_epoch`, with
    /// [`DEFAULT_PATH`], tag [`DEFAULT_REF_NAME`] and no command, label or
    /// hash.
    pub fn new(arch: impl Into<String>, source_date_epoch: i64) -> Self {
        ImageConfig {
            arch: arch.into(),
            source_date_epoch,
            env: vec![DEFAULT_PATH.to_owned()],
            cmd: None,
            labels: BTreeMap::new(),
            lock_hash: None,
            spec_hash: None,
            annotations: BTreeMap::new(),
            referrers: Vec::new(),
            ref_name: Some(DEFAULT_REF_NAME.to_owned()),
        }
    }
}

/// An artifact that refers to the image (OCI 1.1 `subject`), such as an
/// SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// The artifact manifest's `artifactType` and its one blob's media
    /// type (`application/spdx+json`, `application/vnd.cyclonedx+json`).
    pub media_type: String,
    /// The blob.
    pub data: Vec<u8>,
    /// The artifact manifest's annotations (besides the creation time).
    pub annotations: BTreeMap<String, String>,
}

/// A blob of the image: its SHA-256 and size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobRef {
    pub digest: Sha256,
    pub size: u64,
}

impl BlobRef {
    /// The OCI form of the digest, `sha256:<hex>`.
    pub fn oci_digest(&self) -> String {
        format!("sha256:{}", self.digest)
    }
}

/// A layer as written: its compressed blob and the digest of its tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerDigests {
    /// The gzip blob (the manifest's layer descriptor).
    pub blob: BlobRef,
    /// SHA-256 of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Sha256,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
}

/// The digests of a written image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDigests {
    /// The manifest (the image's digest, as registries name it).
    pub manifest: BlobRef,
    /// The config blob (the image ID of docker and podman).
    pub config: BlobRef,
    /// The layers, base first.
    pub layers: Vec<LayerDigests>,
}

/// The OCI (Go) `architecture` and `variant` for a Debian architecture.
pub fn go_platform(debian_arch: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match debian_arch {
        "amd64" => ("amd64", None),
        "arm64" => ("arm64", None),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "ppc64" => ("ppc64", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "mips64el" => ("mips64le", None),
        "loong64" => ("loong64", None),
        _ => return None,
    })
}

/// RFC 3339 (UTC, seconds) of `epoch` seconds since 1970; negative is 0.
pub fn rfc3339(epoch: i64) -> String {
    let secs = epoch.max(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01, in 400-year eras of
    // 146097 days counted from 0000-03-01 (so leap days end a year).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Write an OCI image layout of `layers` (base first) at `out_dir`.
///
/// The directory is made beside `out_dir` under a temporary name and
/// renamed onto it at the end; an existing layout (or empty directory) at
/// `out_dir` is replaced, anything else there is refused.
pub fn write_layout(
    out_dir: &Path,
    layers: &[LayerSource],
    config: &ImageConfig,
) -> Result<ImageDigests, OciError> {
    let (parent, name) = split_target(out_dir)?;
    if let Ok(meta) = fs::symlink_metadata(out_dir) {
        if !meta.is_dir() || !replaceable_dir(out_dir)? {
            return Err(OciError::TargetNotLayout {
                path: out_dir.to_owned(),
            });
        }
    }
    let tmp = create_temp(&parent, &name, "tmp", true)?;
    let digests = build_layout(&tmp.path, layers, config)?;
    sync_dir(&tmp.path)?;
    install_dir(&tmp.path, out_dir)?;
    tmp.disarm();
    sync_dir(&parent)?;
    Ok(digests)
}

/// Write an `oci-archive` (a tar of the OCI image layout of `layers`) at
/// `out_file`, through a temporary file beside it.
pub fn write_archive(
    out_file: &Path,
    layers: &[LayerSource],
    config: &ImageConfig,
) -> Result<ImageDigests, OciError> {
    let (parent, name) = split_target(out_file)?;
    if fs::metadata(out_file).is_ok_and(|m| m.is_dir()) {
        return Err(OciError::TargetIsDir {
            path: out_file.to_owned(),
        });
    }
    let dir = create_temp(&parent, &name, "tmp", true)?;
    let digests = build_layout(&dir.path, layers, config)?;
    let part = create_temp(&parent, &name, "part", false)?;
    write_layout_tar(&dir.path, &part.path, config.source_date_epoch)?;
    fs::rename(&part.path, out_file).map_err(io_err("renaming the archive to", out_file))?;
    part.disarm();
    drop(dir);
    sync_dir(&parent)?;
    Ok(digests)
}

/// Write one image for several platforms at `out`: an OCI image layout
/// directory, or with `archive` an `oci-archive` file, from `layouts`,
/// each a single-platform layout [`write_layout`] wrote (for example one
/// per architecture of the same spec).
///
/// Every blob of the inputs is kept. A new image index lists each input's
/// image manifest with its platform, in the order given, and
/// `index.json` names that index with the tag `ref_name`, followed by the
/// inputs' referrers (SBOMs; their `subject` is their platform's
/// manifest). The same inputs make the same bytes. Returns the index's
/// blob: the image's digest.
pub fn write_platforms(
    out: &Path,
    layouts: &[PathBuf],
    archive: bool,
    ref_name: &str,
    source_date_epoch: i64,
) -> Result<BlobRef, OciError> {
    use oci_spec::image::ImageIndex;
    let (parent, name) = split_target(out)?;
    if archive {
        if fs::metadata(out).is_ok_and(|m| m.is_dir()) {
            return Err(OciError::TargetIsDir {
                path: out.to_owned(),
            });
        }
    } else if let Ok(meta) = fs::symlink_metadata(out) {
        if !meta.is_dir() || !replaceable_dir(out)? {
            return Err(OciError::TargetNotLayout {
                path: out.to_owned(),
            });
        }
    }
    let tmp = create_temp(&parent, &name, "tmp", true)?;
    let blobs = tmp.path.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(io_err("creating", &blobs))?;
    let mut images = Vec::new();
    let mut referrers = Vec::new();
    for layout in layouts {
        let index_path = layout.join("index.json");
        let index = ImageIndex::from_file(&index_path).map_err(|_| OciError::TargetNotLayout {
            path: layout.clone(),
        })?;
        for d in index.manifests() {
            if d.artifact_type().is_some() {
                referrers.push(d.clone());
            } else {
                let mut d = d.clone();
                d.set_annotations(None);
                images.push(d);
            }
        }
        let from = layout.join("blobs/sha256");
        for e in fs::read_dir(&from).map_err(io_err("reading", &from))? {
            let e = e.map_err(io_err("reading", &from))?;
            let to = blobs.join(e.file_name());
            if !to.exists() {
                fs::copy(e.path(), &to).map_err(io_err("copying to", &to))?;
            }
        }
    }
    let nested = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(images)
        .build()
        .map_err(spec_err("platforms' index"))?;
    let nested_blob = write_blob(&blobs, &canonical_json(&nested, "platforms' index")?)?;
    let mut manifests = vec![DescriptorBuilder::default()
        .media_type(MediaType::ImageIndex)
        .digest(oci_digest(&nested_blob)?)
        .size(nested_blob.size)
        .annotations(
            [(ANNOTATION_REF_NAME.to_owned(), ref_name.to_owned())]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .build()
        .map_err(spec_err("index's descriptor"))?];
    manifests.extend(referrers);
    write_index(&tmp.path, manifests)?;
    if archive {
        let part = create_temp(&parent, &name, "part", false)?;
        write_layout_tar(&tmp.path, &part.path, source_date_epoch)?;
        fs::rename(&part.path, out).map_err(io_err("renaming the archive to", out))?;
        part.disarm();
        drop(tmp);
    } else {
        sync_dir(&tmp.path)?;
        install_dir(&tmp.path, out)?;
        tmp.disarm();
    }
    sync_dir(&parent)?;
    Ok(nested_blob)
}

fn split_target(target: &Path) -> Result<(PathBuf, std::ffi::OsString), OciError> {
    let bad = || OciError::BadTarget {
        path: target.to_owned(),
    };
    let name = target.file_name().ok_or_else(bad)?.to_owned();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        Some(_) => PathBuf::from("."),
        None => return Err(bad()),
    };
    Ok((parent, name))
}

/// An empty directory, or one with an `oci-layout` file.
fn replaceable_dir(dir: &Path) -> Result<bool, OciError> {
    if dir.join("oci-layout").is_file() {
        return Ok(true);
    }
    let mut entries = fs::read_dir(dir).map_err(io_err("reading", dir))?;
    Ok(entries.next().is_none())
}

/// Move the finished directory `tmp` onto `target`, exchanging it with an
/// existing one atomically, then remove the old one.
fn install_dir(tmp: &Path, target: &Path) -> Result<(), OciError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match fs::rename(tmp, target) {
        Ok(()) => return Ok(()),
        Err(e)
            if e.kind() == io::ErrorKind::DirectoryNotEmpty
                || e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {}
        Err(e) => return Err(io_err("renaming the layout to", target)(e)),
    }
    renameat_with(CWD, tmp, CWD, target, RenameFlags::EXCHANGE)
        .map_err(|e| io_err("exchanging the layout with", target)(e.into()))?;
    // `tmp` now names the old layout: the new one is in place whatever
    // happens to it (the caller's guard removes what is left).
    let _ = fs::remove_dir_all(tmp);
    Ok(())
}

fn build_layout(
    dir: &Path,
    layers: &[LayerSource],
    config: &ImageConfig,
) -> Result<ImageDigests, OciError> {
    let (arch, variant) = go_platform(&config.arch).ok_or_else(|| OciError::UnknownArch {
        arch: config.arch.clone(),
    })?;
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(io_err("creating", &blobs))?;

    let mut layer_digests = Vec::with_capacity(layers.len());
    for (index, layer) in layers.iter().enumerate() {
        layer_digests.push(write_layer(&blobs, index, layer)?);
    }

    let created = rfc3339(config.source_date_epoch);
    let image_config = image_config(config, arch, variant, &created, layers, &layer_digests)?;
    let config_blob = write_blob(&blobs, &canonical_json(&image_config, "config")?)?;

    let mut annotations = BTreeMap::new();
    annotations.insert(ANNOTATION_CREATED.to_owned(), created);
    if let Some(h) = &config.lock_hash {
        annotations.insert(ANNOTATION_LOCK_HASH.to_owned(), h.clone());
    }
    if let Some(h) = &config.spec_hash {
        annotations.insert(ANNOTATION_SPEC_HASH.to_owned(), h.clone());
    }
    annotations.extend(config.annotations.clone());
    let layer_descriptors = layer_digests
        .iter()
        .map(|l| descriptor(MediaType::ImageLayerGzip, &l.blob))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, &config_blob)?)
        .layers(layer_descriptors)
        .annotations(
            annotations
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .build()
        .map_err(spec_err("manifest"))?;
    let manifest_blob = write_blob(&blobs, &canonical_json(&manifest, "manifest")?)?;

    let mut platform = PlatformBuilder::default()
        .architecture(Arch::from(arch))
        .os(Os::Linux);
    if let Some(v) = variant {
        platform = platform.variant(v);
    }
    let mut manifest_descriptor = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(oci_digest(&manifest_blob)?)
        .size(manifest_blob.size)
        .platform(platform.build().map_err(spec_err("platform"))?);
    if let Some(tag) = &config.ref_name {
        manifest_descriptor = manifest_descriptor.annotations(
            [(ANNOTATION_REF_NAME.to_owned(), tag.clone())]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    let mut manifests = vec![manifest_descriptor
        .build()
        .map_err(spec_err("index's manifest descriptor"))?];
    if !config.referrers.is_empty() {
        let subject = descriptor(MediaType::ImageManifest, &manifest_blob)?;
        let empty = write_blob(&blobs, b"{}")?;
        for r in &config.referrers {
            let kind = MediaType::Other(r.media_type.clone());
            let data = write_blob(&blobs, &r.data)?;
            let mut annotations = r.annotations.clone();
            annotations.insert(
                ANNOTATION_CREATED.to_owned(),
                rfc3339(config.source_date_epoch),
            );
            let artifact = ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .artifact_type(kind.clone())
                .config(descriptor(MediaType::EmptyJSON, &empty)?)
                .layers(vec![descriptor(kind.clone(), &data)?])
                .subject(subject.clone())
                .annotations(
                    annotations
                        .into_iter()
                        .collect::<std::collections::HashMap<_, _>>(),
                )
                .build()
                .map_err(spec_err("referrer's manifest"))?;
            let blob = write_blob(&blobs, &canonical_json(&artifact, "referrer's manifest")?)?;
            manifests.push(
                DescriptorBuilder::default()
                    .media_type(MediaType::ImageManifest)
                    .digest(oci_digest(&blob)?)
                    .size(blob.size)
                    .artifact_type(kind)
                    .build()
                    .map_err(spec_err("index's referrer descriptor"))?,
            );
        }
    }
    write_index(dir, manifests)?;
    Ok(ImageDigests {
        manifest: manifest_blob,
        config: config_blob,
        layers: layer_digests,
    })
}

/// Write a layout's `index.json` (listing `manifests`) and `oci-layout`
/// in `dir`.
fn write_index(dir: &Path, manifests: Vec<Descriptor>) -> Result<(), OciError> {
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .map_err(spec_err("index"))?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(spec_err("oci-layout"))?;
    write_file(&dir.join("index.json"), &canonical_json(&index, "index")?)?;
    write_file(
        &dir.join("oci-layout"),
        &canonical_json(&layout, "oci-layout")?,
    )
}

fn image_config(
    config: &ImageConfig,
    arch: &str,
    variant: Option<&str>,
    created: &str,
    layers: &[LayerSource],
    digests: &[LayerDigests],
) -> Result<oci_spec::image::ImageConfiguration, OciError> {
    let mut run = ConfigBuilder::default().env(config.env.clone());
    if let Some(cmd) = &config.cmd {
        run = run.cmd(cmd.clone());
    }
    if !config.labels.is_empty() {
        run = run.labels(
            config
                .labels
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    let history = layers
        .iter()
        .map(|l| {
            let mut h = HistoryBuilder::default()
                .created(created)
                .created_by(l.created_by.clone());
            if let Some(c) = &l.comment {
                h = h.comment(c.clone());
            }
            h.build().map_err(spec_err("history"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            digests
                .iter()
                .map(|d| format!("sha256:{}", d.diff_id))
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(spec_err("rootfs"))?;
    let mut b = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(Arch::from(arch))
        .os(Os::Linux)
        .config(run.build().map_err(spec_err("run config"))?)
        .rootfs(rootfs)
        .history(history);
    if let Some(v) = variant {
        b = b.variant(v);
    }
    b.build().map_err(spec_err("config"))
}

fn oci_digest(blob: &BlobRef) -> Result<OciDigest, OciError> {
    blob.oci_digest().parse().map_err(spec_err("digest"))
}

fn descriptor(media_type: MediaType, blob: &BlobRef) -> Result<Descriptor, OciError> {
    Ok(Descriptor::new(media_type, blob.size, oci_digest(blob)?))
}

/// Compact JSON with every object's keys sorted, whatever map types the
/// value uses and whatever `serde_json` features the build unified.
fn canonical_json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, OciError> {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    let json_err = |source| OciError::Json { what, source };
    let value = serde_json::to_value(value).map_err(json_err)?;
    serde_json::to_vec(&sort(value)).map_err(json_err)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new temporary directory or empty file beside the target, named after
/// it (`.NAME.PID-N.SUFFIX`); a name left by an earlier process is skipped.
fn create_temp(
    parent: &Path,
    name: &std::ffi::OsStr,
    suffix: &str,
    dir: bool,
) -> Result<TempGuard, OciError> {
    let mut tries = 0;
    loop {
        let path = temp_name(parent, name, suffix);
        let made = if dir {
            fs::create_dir(&path)
        } else {
            File::create_new(&path).map(drop)
        };
        match made {
            Ok(()) => return Ok(TempGuard::new(path, dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => tries += 1,
            Err(e) => return Err(io_err("creating", &path)(e)),
        }
    }
}

fn temp_name(dir: &Path, name: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut s = std::ffi::OsString::from(".");
    s.push(name);
    s.push(format!(".{}-{n}.{suffix}", std::process::id()));
    dir.join(s)
}

/// Removes a temporary file or directory unless disarmed.
struct TempGuard {
    path: PathBuf,
    dir: bool,
    armed: bool,
}

impl TempGuard {
    fn new(path: PathBuf, dir: bool) -> Self {
        TempGuard {
            path,
            dir,
            armed: true,
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = if self.dir {
                fs::remove_dir_all(&self.path)
            } else {
                fs::remove_file(&self.path)
            };
        }
    }
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
    len: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            len: 0,
        }
    }

    fn finish(self) -> (W, Sha256, u64) {
        (self.inner, self.hasher.finalize().into(), self.len)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Feeds its inner writer in chunks of exactly [`Chunked::SIZE`] bytes
/// (the last one shorter), whatever the sizes of the writes it gets: the
/// deflate encoder's output depends on how its input is cut, so a layer
/// written from a file and the same bytes written by a callback compress
/// alike only when cut alike.
struct Chunked<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Chunked<W> {
    const SIZE: usize = 1 << 16;

    fn new(inner: W) -> Self {
        Chunked {
            inner,
            buf: Vec::with_capacity(Self::SIZE),
        }
    }

    /// Write what is left and hand back the inner writer.
    fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        Ok(self.inner)
    }
}

impl<W: Write> Write for Chunked<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(Self::SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == Self::SIZE {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(n)
    }

    /// Passes nothing on: a flush would cut the input where the caller
    /// happened to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The deterministic gzip encoder of layer blobs.
fn gzip<W: Write>(inner: W) -> flate2::write::GzEncoder<W> {
    flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(inner, flate2::Compression::new(GZIP_LEVEL))
}

fn write_layer(blobs: &Path, index: usize, layer: &LayerSource) -> Result<LayerDigests, OciError> {
    let tmp = TempGuard::new(blobs.join(format!(".layer-{index}.tmp")), false);
    let file = File::create_new(&tmp.path).map_err(io_err("creating", &tmp.path))?;
    let mut sink = Hashing::new(Chunked::new(gzip(Hashing::new(BufWriter::new(file)))));
    let read_err = |source| OciError::LayerRead {
        index,
        what: layer.what(),
        source,
    };
    match &layer.kind {
        SourceKind::Path(p) => {
            let mut f = File::open(p).map_err(read_err)?;
            copy(&mut f, &mut sink, &tmp.path).map_err(|e| e.into_error(read_err))?;
        }
        SourceKind::Reader(r) => {
            let mut r = r
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .ok_or(OciError::ReaderUsed { index })?;
            copy(&mut r, &mut sink, &tmp.path).map_err(|e| e.into_error(read_err))?;
        }
        SourceKind::Writer(w) => {
            let mut checked = ErrorKeeping {
                inner: &mut sink,
                error: None,
            };
            let result = w(&mut checked);
            if let Some(e) = checked.error {
                return Err(io_err("writing", &tmp.path)(e));
            }
            result.map_err(|source| OciError::LayerWrite {
                index,
                what: layer.what(),
                source,
            })?;
        }
    }
    let (chunked, diff_id, tar_size) = sink.finish();
    let gz = chunked.finish().map_err(io_err("writing", &tmp.path))?;
    let compressed = gz.finish().map_err(io_err("writing", &tmp.path))?;
    let (buf, digest, size) = compressed.finish();
    let file = buf
        .into_inner()
        .map_err(|e| io_err("writing", &tmp.path)(e.into_error()))?;
    file.sync_all().map_err(io_err("syncing", &tmp.path))?;
    let blob = BlobRef { digest, size };
    let dest = blobs.join(digest.to_string());
    fs::rename(&tmp.path, &dest).map_err(io_err("renaming a layer blob to", &dest))?;
    tmp.disarm();
    Ok(LayerDigests {
        blob,
        diff_id,
        tar_size,
    })
}

/// Passes writes on, keeping the first error of the sink, so that a
/// callback's failure is told from the output's.
struct ErrorKeeping<'a, W> {
    inner: &'a mut W,
    error: Option<io::Error>,
}

impl<W> ErrorKeeping<'_, W> {
    /// Keep the sink's first error; the callback gets a copy.
    fn keep(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        self.error.get_or_insert(e);
        copy
    }
}

impl<W: Write> Write for ErrorKeeping<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.keep(e))
    }
}

enum CopyError {
    Read(io::Error),
    Write(OciError),
}

impl CopyError {
    fn into_error(self, read: impl FnOnce(io::Error) -> OciError) -> OciError {
        match self {
            CopyError::Read(e) => read(e),
            CopyError::Write(e) => e,
        }
    }
}

/// Copy, telling a read error (the source's) from a write error (ours).
fn copy(r: &mut dyn Read, w: &mut dyn Write, out: &Path) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        w.write_all(&buf[..n])
            .map_err(|e| CopyError::Write(io_err("writing", out)(e)))?;
        total += n as u64;
    }
}

fn write_blob(blobs: &Path, data: &[u8]) -> Result<BlobRef, OciError> {
    let blob = BlobRef {
        digest: crate::hash::sha256(data),
        size: data.len() as u64,
    };
    write_file(&blobs.join(blob.digest.to_string()), data)?;
    Ok(blob)
}

/// Write `data` to `path` through a temporary name in the same directory.
fn write_file(path: &Path, data: &[u8]) -> Result<(), OciError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = TempGuard::new(path.with_file_name(tmp_name), false);
    let mut f = File::create(&tmp.path).map_err(io_err("creating", &tmp.path))?;
    f.write_all(data).map_err(io_err("writing", &tmp.path))?;
    f.sync_all().map_err(io_err("syncing", &tmp.path))?;
    fs::rename(&tmp.path, path).map_err(io_err("renaming to", path))?;
    tmp.disarm();
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), OciError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing", dir))
}

/// Tar the layout at `dir` (every blob, `index.json`, `oci-layout`,
/// sorted) into `out`.
fn write_layout_tar(dir: &Path, out: &Path, epoch: i64) -> Result<(), OciError> {
    let mtime = epoch.max(0) as u64;
    let sha = dir.join("blobs/sha256");
    let mut blobs: Vec<String> = fs::read_dir(&sha)
        .map_err(io_err("reading", &sha))?
        .map(|e| {
            e.map(|e| format!("blobs/sha256/{}", e.file_name().to_string_lossy()))
                .map_err(io_err("reading", &sha))
        })
        .collect::<Result<_, _>>()?;
    blobs.sort();
    let mut entries: Vec<(String, bool)> = vec![
        ("blobs/".to_owned(), true),
        ("blobs/sha256/".to_owned(), true),
    ];
    entries.extend(blobs.into_iter().map(|b| (b, false)));
    entries.push(("index.json".to_owned(), false));
    entries.push(("oci-layout".to_owned(), false));

    let file = File::create(out).map_err(io_err("creating", out))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, is_dir) in &entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")
            .and_then(|_| h.set_groupname("root"))
            .map_err(io_err("writing", out))?;
        let result = if *is_dir {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_cksum();
            tar.append_data(&mut h, name, io::empty())
        } else {
            let src = dir.join(name);
            let mut f = File::open(&src).map_err(io_err("reading", &src))?;
            let len = f.metadata().map_err(io_err("reading", &src))?.len();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(len);
            h.set_cksum();
            tar.append_data(&mut h, name, &mut f)
        };
        result.map_err(io_err("writing", out))?;
    }
    let buf = tar.into_inner().map_err(io_err("writing", out))?;
    let file = buf
        .into_inner()
        .map_err(|e| io_err("writing", out)(e.into_error()))?;
    file.sync_all().map_err(io_err("syncing", out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_compresses_alike_however_its_bytes_are_written() {
        let t = testkit::TempDir::new("oci-chunks");
        // Compressible and not: text, then pseudo-random bytes.
        let mut data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("line {}\n", i % 977).into_bytes())
            .collect();
        let mut x = 12345u32;
        data.extend((0..200_000).map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        }));
        let path = t.path().join("layer.tar");
        std::fs::write(&path, &data).unwrap();
        let blobs = t.path().join("blobs");
        std::fs::create_dir(&blobs).unwrap();
        let from_file = write_layer(&blobs, 0, &LayerSource::from_path(&path)).unwrap();
        let odd = data.clone();
        let by_pieces = LayerSource::from_writer(move |w| {
            // Pieces of 1, 512, 7 and 100000 bytes, over and over.
            let mut rest = &odd[..];
            for n in [1usize, 512, 7, 100_000].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let k = (*n).min(rest.len());
                w.write_all(&rest[..k])?;
                w.flush()?;
                rest = &rest[k..];
            }
            Ok(())
        });
        let from_writer = write_layer(&blobs, 1, &by_pieces).unwrap();
        assert_eq!(from_file, from_writer);
    }

    #[test]
    fn referrers_follow_the_image_in_the_index_and_name_it() {
        let t = testkit::TempDir::new("oci-referrers");
        let mut config = ImageConfig::new("amd64", 1_700_000_000);
        config.referrers = vec![Referrer {
            media_type: "application/spdx+json".into(),
            data: b"{\"spdxVersion\":\"SPDX-2.3\"}".to_vec(),
            annotations: BTreeMap::new(),
        }];
        let layer = LayerSource::from_writer(|w| Ok(w.write_all(&[0u8; 1024])?));
        let out = t.path().join("image");
        let digests = write_layout(&out, &[layer], &config).unwrap();
        let json = |p: &Path| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
        };
        let index = json(&out.join("index.json"));
        let manifests = index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 2);
        assert_eq!(manifests[0]["digest"], digests.manifest.oci_digest());
        assert_eq!(manifests[1]["artifactType"], "application/spdx+json");
        let name = manifests[1]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let artifact = json(&out.join("blobs/sha256").join(name));
        assert_eq!(artifact["subject"]["digest"], digests.manifest.oci_digest());
        assert_eq!(
            artifact["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(artifact["config"]["size"], 2);
        assert_eq!(artifact["layers"][0]["mediaType"], "application/spdx+json");
        // The image itself is the one without referrers.
        let plain = t.path().join("plain");
        config.referrers.clear();
        let layer = LayerSource::from_writer(|w| Ok(w.write_all(&[0u8; 1024])?));
        assert_eq!(write_layout(&plain, &[layer], &config).unwrap(), digests);
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn platforms() {
        assert_eq!(go_platform("armhf"), Some(("arm", Some("v7"))));
        assert_eq!(go_platform("i386"), Some(("386", None)));
        assert_eq!(go_platform("ppc64el"), Some(("ppc64le", None)));
        assert_eq!(go_platform("hurd-i386"), None);
        for (deb, go) in [
            ("amd64", "amd64"),
            ("s390x", "s390x"),
            ("riscv64", "riscv64"),
        ] {
            assert_eq!(go_platform(deb), Some((go, None)));
            assert_eq!(Arch::from(go).to_string(), go);
        }
    }

    #[test]
    fn json_keys_sorted() {
        let mut m = std::collections::HashMap::new();
        for k in ["z", "a", "m", "b", "y"] {
            m.insert(k.to_owned(), 1);
        }
        let j = canonical_json(&m, "test").unwrap();
        assert_eq!(j, br#"{"a":1,"b":1,"m":1,"y":1,"z":1}"#);
    }
}
