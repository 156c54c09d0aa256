//! OCI images built in Rust for chapters 09-10, pushed to a real registry with a
//! real client (skopeo), and unpacked by an independent tool (umoci) to compare
//! with the chapter's own unpacking.
//!
//! ```no_run
//! use workshop_grader::oci::{self, Entry, ImageSpec};
//! let base = oci::layer(&[Entry::dir("etc", 0o755), Entry::file("etc/motd", 0o644, "hello\n")]);
//! let top = oci::layer(&[Entry::whiteout("etc/motd")]);
//! let layout = std::path::Path::new("/tmp/some-layout");
//! oci::write_layout(layout, "v1", &[ImageSpec::new(vec![base, top])], false);
//! # let registry = workshop_grader::registry::Registry::start();
//! oci::push(layout, "v1", &registry, "workshop/demo:v1");
//! ```
//!
//! Every entry is written exactly as given (path bytes, owner, mode), including
//! the malicious ones a safe extractor must refuse ([`Entry::raw`]); the
//! archives are reproducible (fixed mtime, no user names), so are the digests.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::registry::{Auth, Registry};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The modification time of every entry (2023-11-14): fixed, so digests are too.
const MTIME: u64 = 1_700_000_000;

/// One entry of a layer's tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path in the archive, written byte for byte.
    pub path: Vec<u8>,
    pub kind: Kind,
    /// Permission bits, with setuid/setgid/sticky (0o7777).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// What an [`Entry`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// A regular file and its content.
    File(Vec<u8>),
    /// A symbolic link and its target (any bytes: absolute, "../..", ...).
    Symlink(Vec<u8>),
    /// A hard link to an earlier entry of the archive (its path in the archive).
    Hardlink(Vec<u8>),
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

impl Entry {
    /// A directory; written as "PATH/", as image builders do.
    pub fn dir(path: &str, mode: u32) -> Entry {
        let mut bytes = checked(path).into_bytes();
        if !bytes.ends_with(b"/") {
            bytes.push(b'/');
        }
        Entry::raw(bytes, Kind::Dir, mode)
    }

    /// A regular file with `content`.
    pub fn file(path: &str, mode: u32, content: impl Into<Vec<u8>>) -> Entry {
        Entry::raw(checked(path), Kind::File(content.into()), mode)
    }

    /// A symbolic link to `target` (not checked: links may point anywhere).
    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry::raw(checked(path), Kind::Symlink(target.into()), 0o777)
    }

    /// A hard link to the earlier entry `target` of the same layer.
    pub fn hardlink(path: &str, target: &str) -> Entry {
        Entry::raw(checked(path), Kind::Hardlink(checked(target).into_bytes()), 0o644)
    }

    /// A character device (e.g. 1, 3 for /dev/null).
    pub fn char_device(path: &str, mode: u32, major: u32, minor: u32) -> Entry {
        Entry::raw(checked(path), Kind::CharDevice { major, minor }, mode)
    }

    /// A named pipe.
    pub fn fifo(path: &str, mode: u32) -> Entry {
        Entry::raw(checked(path), Kind::Fifo, mode)
    }

    /// A whiteout: `path` of a lower layer is deleted. Written as DIR/.wh.NAME.
    pub fn whiteout(path: &str) -> Entry {
        let path = checked(path);
        let (dir, name) = match path.trim_end_matches('/').rsplit_once('/') {
            Some((dir, name)) => (format!("{dir}/"), name.to_string()),
            None => (String::new(), path.trim_end_matches('/').to_string()),
        };
        Entry::raw(format!("{dir}.wh.{name}"), Kind::File(Vec::new()), 0o644)
    }

    /// An opaque directory: what lower layers have in `dir` is hidden, only this
    /// layer's content of `dir` shows. Written as DIR/.wh..wh..opq.
    pub fn opaque(dir: &str) -> Entry {
        let dir = checked(dir);
        Entry::raw(
            format!("{}/.wh..wh..opq", dir.trim_end_matches('/')),
            Kind::File(Vec::new()),
            0o644,
        )
    }

    /// Any entry, with `path` written exactly as given and never checked: for the
    /// archives a safe extractor must refuse ("../evil", "/etc/passwd",
    /// "a/../../b", non-UTF-8 bytes), which the tar crate's safe API would not write.
    pub fn raw(path: impl Into<Vec<u8>>, kind: Kind, mode: u32) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// The same entry, owned by `uid`:`gid` (root's by default).
    pub fn owned_by(mut self, uid: u64, gid: u64) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }
}

/// A path for the safe constructors: relative, without "..". Malicious paths
/// go through [`Entry::raw`], so that a check says what it means.
fn checked(path: &str) -> String {
    assert!(
        !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|c| c == ".."),
        "{path:?}: use Entry::raw for an absolute path or one with `..`"
    );
    path.to_string()
}

/// The entries of the tree under `root` (not `root` itself), sorted by path,
/// with their modes and owners: directories, files, symlinks, devices, fifos;
/// a file with several links becomes a hard link to its first path. To make an
/// image of a test rootfs: `layer(&entries_from_dir(&sandbox.rootfs))`.
pub fn entries_from_dir(root: &Path) -> Vec<Entry> {
    fn walk(root: &Path, dir: &Path, seen: &mut HashMap<(u64, u64), String>, out: &mut Vec<Entry>) {
        let mut children: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        children.sort();
        for path in children {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .expect("a UTF-8 path")
                .to_string();
            let mode = meta.mode() & 0o7777;
            let kind = meta.file_type();
            let entry = if kind.is_dir() {
                Entry::dir(&relative, mode)
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                Entry::symlink(&relative, target.to_str().expect("a UTF-8 link target"))
            } else if kind.is_file() && meta.nlink() > 1 && seen.contains_key(&(meta.dev(), meta.ino())) {
                let mut link = Entry::hardlink(&relative, &seen[&(meta.dev(), meta.ino())]);
                link.mode = mode;
                link
            } else if kind.is_file() {
                seen.insert((meta.dev(), meta.ino()), relative.clone());
                Entry::file(&relative, mode, std::fs::read(&path).unwrap())
            } else if kind.is_char_device() || kind.is_block_device() {
                let (major, minor) = (nix::sys::stat::major(meta.rdev()), nix::sys::stat::minor(meta.rdev()));
                let (major, minor) = (major as u32, minor as u32);
                let kind = if kind.is_char_device() {
                    Kind::CharDevice { major, minor }
                } else {
                    Kind::BlockDevice { major, minor }
                };
                Entry::raw(relative.clone(), kind, mode)
            } else if kind.is_fifo() {
                Entry::fifo(&relative, mode)
            } else {
                continue; // sockets do not go in images
            };
            out.push(entry.owned_by(meta.uid().into(), meta.gid().into()));
            if kind.is_dir() {
                walk(root, &path, seen, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut HashMap::new(), &mut out);
    out
}

/// A layer: a gzip-compressed tar archive and what manifests and configs say of it.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The blob as stored and sent: the gzip-compressed tar.
    pub compressed: Vec<u8>,
    /// "sha256:HEX" of the compressed bytes: the blob's name in the registry.
    pub digest: String,
    /// "sha256:HEX" of the uncompressed tar: the image config's rootfs.diff_ids.
    pub diff_id: String,
    /// The length of `compressed`.
    pub size: u64,
}

impl Layer {
    /// A layer of an existing (uncompressed) tar archive.
    pub fn from_tar(tar: &[u8]) -> Layer {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(tar).unwrap();
        let compressed = gzip.finish().unwrap();
        Layer {
            digest: sha256_digest(&compressed),
            diff_id: sha256_digest(tar),
            size: compressed.len() as u64,
            compressed,
        }
    }
}

/// A layer holding `entries`, in this order.
pub fn layer(entries: &[Entry]) -> Layer {
    Layer::from_tar(&tar_archive(entries))
}

/// The uncompressed tar archive of `entries` (GNU format, long names through
/// GNU long-name entries), every header written byte for byte.
pub fn tar_archive(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        if entry.path.len() > 100 {
            append_long_name(&mut builder, tar::EntryType::GNULongName, &entry.path);
        }
        let link = match &entry.kind {
            Kind::Symlink(target) | Kind::Hardlink(target) => Some(target),
            _ => None,
        };
        if let Some(link) = link.filter(|l| l.len() > 100) {
            append_long_name(&mut builder, tar::EntryType::GNULongLink, link);
        }
        let mut header = tar::Header::new_gnu();
        copy_truncated(&mut header.as_old_mut().name, &entry.path);
        if let Some(link) = link {
            copy_truncated(&mut header.as_old_mut().linkname, link);
        }
        header.set_mode(entry.mode);
        header.set_uid(entry.uid);
        header.set_gid(entry.gid);
        header.set_mtime(MTIME);
        let (entry_type, data): (_, &[u8]) = match &entry.kind {
            Kind::Dir => (tar::EntryType::Directory, &[]),
            Kind::File(content) => (tar::EntryType::Regular, content),
            Kind::Symlink(_) => (tar::EntryType::Symlink, &[]),
            Kind::Hardlink(_) => (tar::EntryType::Link, &[]),
            Kind::CharDevice { .. } => (tar::EntryType::Char, &[]),
            Kind::BlockDevice { .. } => (tar::EntryType::Block, &[]),
            Kind::Fifo => (tar::EntryType::Fifo, &[]),
        };
        header.set_entry_type(entry_type);
        header.set_size(data.len() as u64);
        if let Kind::CharDevice { major, minor } | Kind::BlockDevice { major, minor } = entry.kind {
            header.set_device_major(major).unwrap();
            header.set_device_minor(minor).unwrap();
        }
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A GNU "././@LongLink" entry carrying the full `name` of the next entry.
fn append_long_name(builder: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &[u8]) {
    let mut header = tar::Header::new_gnu();
    copy_truncated(&mut header.as_old_mut().name, b"././@LongLink");
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(kind);
    let mut data = name.to_vec();
    data.push(0);
    header.set_size(data.len() as u64);
    header.set_cksum();
    builder.append(&header, data.as_slice()).unwrap();
}

/// Copies as much of `bytes` as fits into a NUL-padded header field.
fn copy_truncated(field: &mut [u8], bytes: &[u8]) {
    field.fill(0);
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
}

/// "sha256:HEX" of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The architecture name OCI uses for this machine ("amd64", "arm64", ...).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// One image: its layers (bottom first), platform and runtime configuration.
/// Empty fields are left out of the config.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub layers: Vec<Layer>,
    /// "amd64", "arm64", ...
    pub architecture: String,
    pub os: String,
    /// e.g. Some("v8") for arm64.
    pub variant: Option<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    /// "KEY=value" strings.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
}

impl ImageSpec {
    /// An image for this machine (linux/host_architecture()) running /bin/sh
    /// with the usual PATH. Change the fields for anything else:
    /// `ImageSpec { architecture: "arm64".into(), ..ImageSpec::new(layers) }`.
    pub fn new(layers: Vec<Layer>) -> ImageSpec {
        ImageSpec {
            layers,
            architecture: host_architecture().into(),
            os: "linux".into(),
            variant: None,
            cmd: vec!["/bin/sh".into()],
            entrypoint: Vec::new(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            working_dir: String::new(),
            user: String::new(),
        }
    }

    /// The image config (application/vnd.oci.image.config.v1+json).
    pub fn config_json(&self) -> Value {
        let mut runtime = serde_json::Map::new();
        let mut put = |key: &str, value: Value, empty: bool| {
            if !empty {
                runtime.insert(key.into(), value);
            }
        };
        put("User", json!(self.user), self.user.is_empty());
        put("Env", json!(self.env), self.env.is_empty());
        put("Entrypoint", json!(self.entrypoint), self.entrypoint.is_empty());
        put("Cmd", json!(self.cmd), self.cmd.is_empty());
        put("WorkingDir", json!(self.working_dir), self.working_dir.is_empty());
        let mut config = json!({
            "created": "2023-11-14T22:13:20Z",
            "architecture": self.architecture,
            "os": self.os,
            "config": runtime,
            "rootfs": {
                "type": "layers",
                "diff_ids": self.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
        });
        if let Some(variant) = &self.variant {
            config["variant"] = json!(variant);
        }
        config
    }

    fn platform(&self) -> Value {
        let mut platform = json!({ "architecture": self.architecture, "os": self.os });
        if let Some(variant) = &self.variant {
            platform["variant"] = json!(variant);
        }
        platform
    }
}

/// What [`write_layout`] wrote, by digest ("sha256:HEX").
#[derive(Debug, Clone)]
pub struct Written {
    /// What the tag points at: the image index, or the manifest of a single image.
    pub digest: String,
    /// [`INDEX`] or [`MANIFEST`].
    pub media_type: &'static str,
    /// Each image's manifest, in the order of the images.
    pub manifests: Vec<String>,
    /// Each image's config, in the order of the images.
    pub configs: Vec<String>,
}

/// Writes `images` into the OCI image layout `dir` (created if needed: oci-layout,
/// index.json, blobs/sha256/...) under `tag`. One image and `as_index` false:
/// the tag points at its manifest. Several images, or `as_index`: the tag points
/// at an image index listing each manifest with its platform (a multi-platform
/// image). Other tags already in the layout stay, so one layout can hold several
/// images sharing blobs.
pub fn write_layout(dir: &Path, tag: &str, images: &[ImageSpec], as_index: bool) -> Written {
    assert!(!images.is_empty(), "write_layout: no image");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| -> (String, u64) {
        let digest = sha256_digest(bytes);
        let path = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        std::fs::write(path, bytes).unwrap();
        (digest, bytes.len() as u64)
    };
    let mut manifests = Vec::new();
    let mut configs = Vec::new();
    let mut descriptors = Vec::new();
    for image in images {
        let layers: Vec<Value> = image
            .layers
            .iter()
            .map(|layer| {
                put(&layer.compressed);
                json!({ "mediaType": LAYER, "digest": layer.digest, "size": layer.size })
            })
            .collect();
        let (config, config_size) = put(&serde_json::to_vec(&image.config_json()).unwrap());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": { "mediaType": CONFIG, "digest": config, "size": config_size },
            "layers": layers,
        });
        let (digest, size) = put(&serde_json::to_vec(&manifest).unwrap());
        descriptors.push(json!({
            "mediaType": MANIFEST, "digest": digest, "size": size, "platform": image.platform(),
        }));
        manifests.push(digest);
        configs.push(config);
    }
    let (top, media_type) = if as_index || images.len() > 1 {
        let index = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": descriptors });
        let bytes = serde_json::to_vec(&index).unwrap();
        let (digest, size) = put(&bytes);
        (json!({ "mediaType": INDEX, "digest": digest, "size": size }), INDEX)
    } else {
        let mut descriptor = descriptors.pop().unwrap();
        descriptor.as_object_mut().unwrap().remove("platform");
        (descriptor, MANIFEST)
    };
    let digest = top["digest"].as_str().unwrap().to_string();

    let index_path = dir.join("index.json");
    let mut index: Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({ "schemaVersion": 2, "manifests": [] }));
    let entries = index["manifests"].as_array_mut().unwrap();
    entries.retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != tag);
    let mut top = top;
    top["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    entries.push(top);
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    Written {
        digest,
        media_type,
        manifests,
        configs,
    }
}

/// Pushes `tag` of the layout `layout_dir` to `registry` as `repository_and_tag`
/// ("workshop/busybox:latest") with skopeo, every platform of an index
/// (`--all`) and digests unchanged (`--preserve-digests`: what write_layout
/// returned is what the registry serves). Panics with skopeo's output if it fails.
pub fn push(layout_dir: &Path, tag: &str, registry: &Registry, repository_and_tag: &str) {
    let source = format!("oci:{}:{tag}", layout_dir.display());
    let destination = format!("docker://{}/{repository_and_tag}", registry.host());
    // A token registry's issuer gives anonymous clients tokens to push too.
    let credentials = match registry.auth() {
        Auth::Basic { user, password } => format!("--dest-creds={user}:{password}"),
        Auth::Anonymous | Auth::Token(_) => "--dest-no-creds".to_string(),
    };
    let args = [
        "--insecure-policy", // no /etc/containers/policy.json needed
        "--command-timeout",
        "120s",
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false", // plain HTTP to the loopback registry
        &credentials,
        "--quiet",
        &source,
        &destination,
    ];
    run(
        "skopeo",
        &args,
        "sudo scripts/provision.sh installs it: Debian's package skopeo",
    );
}

/// Unpacks `tag` of the layout `layout_dir` with umoci (as root: owners kept)
/// into the new runtime bundle `bundle`; the image's filesystem is then
/// `bundle/rootfs`. umoci unpacks a manifest only: the tag must not name an index.
pub fn umoci_unpack(layout_dir: &Path, tag: &str, bundle: &Path) {
    let image = format!("{}:{tag}", layout_dir.display());
    let bundle = bundle.display().to_string();
    run(
        "umoci",
        &["unpack", "--image", &image, &bundle],
        "sudo scripts/provision.sh installs it: Debian's package umoci",
    );
}

fn run(program: &str, args: &[&str], install: &str) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not start {program}: {e} ({install})"));
    assert!(
        output.status.success(),
        "{program} {} failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One line per entry under `root` (not `root` itself), sorted by path, to
/// compare two unpackings of an image:
///
/// ```text
/// bin/sh symlink 0777 0:0 -> busybox
/// dev/null char 0666 0:0 1:3
/// etc dir 0755 0:0
/// etc/passwd file 0644 0:0 size=30 links=1 sha256:...
/// ```
pub fn tree_listing(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let kind = meta.file_type();
            let common = format!("{:04o} {}:{}", meta.mode() & 0o7777, meta.uid(), meta.gid());
            let device = || {
                let rdev = meta.rdev();
                format!("{}:{}", nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
            };
            let line = if kind.is_dir() {
                format!("{relative} dir {common}")
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                format!("{relative} symlink {common} -> {}", target.to_string_lossy())
            } else if kind.is_file() {
                let content = std::fs::read(&path).unwrap();
                let digest = sha256_digest(&content);
                format!(
                    "{relative} file {common} size={} links={} {digest}",
                    meta.len(),
                    meta.nlink()
                )
            } else if kind.is_char_device() {
                format!("{relative} char {common} {}", device())
            } else if kind.is_block_device() {
                format!("{relative} block {common} {}", device())
            } else if kind.is_fifo() {
                format!("{relative} fifo {common}")
            } else {
                format!("{relative} socket {common}")
            };
            out.push(line);
            if kind.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
