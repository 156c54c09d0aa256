//! The registry fixture of chapters 09-10 works for real: images built by
//! `oci` are pushed by skopeo to a running docker-registry, served back with
//! their digests, counted in its access log, unpacked by umoci with whiteouts
//! applied, corrupted on demand; and everything is gone afterwards.

use std::io::Read;
use std::path::{Path, PathBuf};

use workshop_grader::oci::{self, Entry, ImageSpec, Kind, INDEX, LAYER, MANIFEST};
use workshop_grader::registry::Registry;

fn layout_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("workshop-oci-").tempdir().unwrap()
}

/// Stops `registry` and checks that its process and directory are gone.
fn stop(registry: Registry) {
    let pid = registry.pid();
    let dir = registry.dir().to_path_buf();
    drop(registry);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the registry (pid {pid}) is still there after drop"
    );
    if std::env::var_os("WORKSHOP_TEST_KEEP").is_none() {
        assert!(!dir.exists(), "{} is still there after drop", dir.display());
    }
    assert!(
        registry_processes_in(&dir).is_empty(),
        "a docker-registry of {} is still running",
        dir.display()
    );
}

/// docker-registry processes whose command line names a file in `dir`.
fn registry_processes_in(dir: &Path) -> Vec<u32> {
    let dir = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("docker-registry") && cmdline.contains(&dir)
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    oci::sha256_digest(bytes)
}

fn lower_layer() -> oci::Layer {
    let long_dir = "deep/".repeat(20); // a 100+ byte path: GNU long names
    oci::layer(&[
        Entry::dir("etc", 0o755),
        Entry::file("etc/hello", 0o644, "hello\n"),
        Entry::hardlink("etc/hello-again", "etc/hello"),
        Entry::symlink("etc/link", "hello"),
        Entry::file("etc/gone", 0o644, "deleted by the upper layer\n"),
        Entry::dir("data", 0o755),
        Entry::file("data/old-a", 0o644, "a\n"),
        Entry::dir("data/sub", 0o700),
        Entry::file("data/sub/old-b", 0o644, "b\n"),
        Entry::dir("home", 0o755),
        Entry::dir("home/user", 0o700).owned_by(1000, 1000),
        Entry::file("home/user/secret", 0o600, "mine\n").owned_by(1000, 1000),
        Entry::dir("dev", 0o755),
        Entry::char_device("dev/null", 0o666, 1, 3),
        Entry::file("bin-setuid", 0o4755, "#!/bin/sh\n"),
        Entry::file(&format!("{long_dir}file"), 0o644, "far down\n"),
    ])
}

fn upper_layer() -> oci::Layer {
    oci::layer(&[
        Entry::whiteout("etc/gone"),
        Entry::file("etc/added", 0o640, "added\n").owned_by(0, 42),
        Entry::dir("data", 0o755),
        Entry::opaque("data"),
        Entry::file("data/new", 0o644, "only this\n"),
    ])
}

#[test]
fn a_pushed_image_is_served_with_its_digests_and_fetches_are_counted() {
    let registry = Registry::start();
    assert!(registry.host().starts_with("127.0.0.1:"), "{}", registry.host());
    let layout = layout_dir();
    let (lower, upper) = (lower_layer(), upper_layer());
    let written = oci::write_layout(
        layout.path(),
        "v1",
        &[ImageSpec::new(vec![lower.clone(), upper.clone()])],
        false,
    );
    assert_eq!(written.media_type, MANIFEST);
    oci::push(layout.path(), "v1", &registry, "workshop/two-layers:v1");
    assert_eq!(
        registry.blob_fetches("workshop/two-layers"),
        0,
        "a push only HEADs blobs: {:?}",
        registry.accesses()
    );
    assert_eq!(registry.manifest_fetches("workshop/two-layers"), 0);

    // docker-registry 2.8 serves an OCI manifest only to a client that accepts it.
    let refused = registry.get("/v2/workshop/two-layers/manifests/v1", &[]);
    assert_eq!(refused.status, 404, "{}", refused.text());
    assert!(refused.text().contains("accept header does not support OCI manifests"));
    assert_eq!(registry.manifest_fetches("workshop/two-layers"), 0);

    let manifest = registry.get("/v2/workshop/two-layers/manifests/v1", &[MANIFEST]);
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    assert_eq!(manifest.header("Content-Type"), Some(MANIFEST));
    // --preserve-digests: the registry serves the very bytes write_layout wrote.
    assert_eq!(manifest.header("Docker-Content-Digest"), Some(written.digest.as_str()));
    assert_eq!(sha256(&manifest.body), written.digest);
    let json: serde_json::Value = serde_json::from_slice(&manifest.body).unwrap();
    assert_eq!(json["layers"][0]["digest"], lower.digest.as_str());
    assert_eq!(json["layers"][1]["digest"], upper.digest.as_str());
    assert_eq!(json["layers"][1]["mediaType"], LAYER);
    assert_eq!(registry.manifest_fetches("workshop/two-layers"), 1);
    assert_eq!(registry.manifest_fetches("workshop/two"), 0);

    let blob = registry.get(&format!("/v2/workshop/two-layers/blobs/{}", lower.digest), &[]);
    assert_eq!(blob.status, 200);
    assert_eq!(blob.body, lower.compressed);
    assert_eq!(registry.blob_fetches("workshop/two-layers"), 1);
    assert_eq!(registry.fetches_of_blob(&lower.digest), 1);
    assert_eq!(registry.fetches_of_blob(&upper.digest), 0);
    assert_eq!(registry.blob_fetches("workshop/other"), 0);

    // What a missing blob answers, and that it does not count.
    let missing = registry.get(&format!("/v2/workshop/two-layers/blobs/{}", sha256(b"none")), &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(registry.blob_fetches("workshop/two-layers"), 1);
    stop(registry);
}

#[test]
fn umoci_unpacks_the_image_with_its_whiteouts_applied() {
    let layout = layout_dir();
    oci::write_layout(
        layout.path(),
        "v1",
        &[ImageSpec::new(vec![lower_layer(), upper_layer()])],
        false,
    );
    let bundle = layout_dir();
    let bundle_path = bundle.path().join("bundle");
    oci::umoci_unpack(layout.path(), "v1", &bundle_path);
    let listing = oci::tree_listing(&bundle_path.join("rootfs"));
    let text = listing.join("\n");
    let has = |line: &str| {
        assert!(listing.iter().any(|l| l.starts_with(line)), "no {line:?} in\n{text}");
    };
    has("etc dir 0755 0:0");
    has(&format!(
        "etc/hello file 0644 0:0 size=6 links=2 {}",
        sha256(b"hello\n")
    ));
    has("etc/hello-again file 0644 0:0 size=6 links=2");
    has("etc/link symlink 0777 0:0 -> hello");
    has("etc/added file 0640 0:42 size=6 links=1");
    has("home/user dir 0700 1000:1000");
    has("home/user/secret file 0600 1000:1000");
    has("dev/null char 0666 0:0 1:3");
    has("bin-setuid file 4755 0:0");
    has(&format!("{}file file 0644", "deep/".repeat(20)));
    // The whiteout deleted the lower file and left no marker.
    assert!(!text.contains("etc/gone"), "{text}");
    assert!(!text.contains(".wh."), "{text}");
    // The opaque directory has the upper layer's content only.
    let data: Vec<&String> = listing.iter().filter(|l| l.starts_with("data")).collect();
    assert_eq!(data.len(), 2, "{data:#?}");
    has("data dir 0755 0:0");
    has("data/new file 0644 0:0 size=10");
}

#[test]
fn a_multi_platform_index_is_pushed_and_served() {
    let registry = Registry::start();
    let layout = layout_dir();
    let image = |arch: &str, variant: Option<&str>| ImageSpec {
        architecture: arch.into(),
        variant: variant.map(str::to_string),
        ..ImageSpec::new(vec![oci::layer(&[Entry::file("arch", 0o644, arch)])])
    };
    let written = oci::write_layout(
        layout.path(),
        "latest",
        &[image("amd64", None), image("arm64", Some("v8"))],
        false,
    );
    assert_eq!(written.media_type, INDEX);
    oci::push(layout.path(), "latest", &registry, "workshop/multi:latest");

    // No fallback to a manifest: a client must accept the index media type.
    let refused = registry.get("/v2/workshop/multi/manifests/latest", &[MANIFEST]);
    assert_eq!(refused.status, 404, "{}", refused.text());
    assert!(refused.text().contains("accept header does not support OCI indexes"));

    let index = registry.get("/v2/workshop/multi/manifests/latest", &[INDEX, MANIFEST]);
    assert_eq!(index.status, 200, "{}", index.text());
    assert_eq!(index.header("Content-Type"), Some(INDEX));
    assert_eq!(index.header("Docker-Content-Digest"), Some(written.digest.as_str()));
    assert_eq!(sha256(&index.body), written.digest);
    let json: serde_json::Value = serde_json::from_slice(&index.body).unwrap();
    let platforms: Vec<String> = json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!("{}/{}{}", p["os"], p["architecture"], p["variant"]).replace('"', "")
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64null", "linux/arm64v8"]);
    for digest in &written.manifests {
        let manifest = registry.get(&format!("/v2/workshop/multi/manifests/{digest}"), &[MANIFEST]);
        assert_eq!(manifest.status, 200, "{}", manifest.text());
        assert_eq!(sha256(&manifest.body), *digest);
        let json: serde_json::Value = serde_json::from_slice(&manifest.body).unwrap();
        let layer = json["layers"][0]["digest"].as_str().unwrap();
        let blob = registry.get(&format!("/v2/workshop/multi/blobs/{layer}"), &[]);
        assert_eq!((blob.status, sha256(&blob.body).as_str()), (200, layer));
    }
    assert_eq!(registry.manifest_fetches("workshop/multi"), 3);
    assert_eq!(registry.blob_fetches("workshop/multi"), 2);

    // A one-platform index (no entry for the machine's architecture, say).
    let other = oci::write_layout(layout.path(), "arm-only", &[image("arm64", Some("v8"))], true);
    assert_eq!(other.media_type, INDEX);
    oci::push(layout.path(), "arm-only", &registry, "workshop/multi:arm-only");
    let index = registry.get("/v2/workshop/multi/manifests/arm-only", &[INDEX]);
    assert_eq!(index.header("Docker-Content-Digest"), Some(other.digest.as_str()));
    // The first tag is still in the layout.
    let tags = std::fs::read_to_string(layout.path().join("index.json")).unwrap();
    assert!(tags.contains("\"latest\"") && tags.contains("\"arm-only\""), "{tags}");
    stop(registry);
}

#[test]
fn a_corrupted_blob_is_served_under_its_digest() {
    let registry = Registry::start();
    let layout = layout_dir();
    let layer = oci::layer(&[Entry::file("file", 0o644, "the right content\n")]);
    let written = oci::write_layout(layout.path(), "v1", &[ImageSpec::new(vec![layer.clone()])], false);
    oci::push(layout.path(), "v1", &registry, "workshop/corrupt:v1");

    registry.corrupt_blob(&layer.digest);
    let blob = registry.get(&format!("/v2/workshop/corrupt/blobs/{}", layer.digest), &[]);
    assert_eq!(blob.status, 200);
    assert_eq!(blob.header("Docker-Content-Digest"), Some(layer.digest.as_str()));
    assert_eq!(blob.body.len(), layer.compressed.len());
    assert_ne!(sha256(&blob.body), layer.digest);
    // Still valid gzip of the same archive: only checking the digest catches it.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(blob.body.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(sha256(&tar), layer.diff_id);

    let config = &written.configs[0];
    registry.corrupt_blob(config);
    let blob = registry.get(&format!("/v2/workshop/corrupt/blobs/{config}"), &[]);
    assert_eq!(blob.status, 200);
    assert_ne!(sha256(&blob.body), *config);
    assert_eq!(registry.fetches_of_blob(&layer.digest), 1);
    stop(registry);
}

#[test]
fn malicious_entries_are_written_as_given() {
    let tar = oci::tar_archive(&[
        Entry::raw("../evil", Kind::File(b"x".to_vec()), 0o644),
        Entry::raw("/abs/path", Kind::File(Vec::new()), 0o644),
        Entry::raw("a/../../b", Kind::Symlink(b"/etc/shadow".to_vec()), 0o777),
        Entry::raw("hard", Kind::Hardlink(b"../../etc/passwd".to_vec()), 0o644),
        Entry::raw(format!("{}/x", "../".repeat(40)), Kind::Dir, 0o755),
    ]);
    let mut archive = tar::Archive::new(tar.as_slice());
    let seen: Vec<(Vec<u8>, Option<Vec<u8>>)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path_bytes().into_owned(), e.link_name_bytes().map(|l| l.into_owned()))
        })
        .collect();
    let expected: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
        (b"../evil".to_vec(), None),
        (b"/abs/path".to_vec(), None),
        (b"a/../../b".to_vec(), Some(b"/etc/shadow".to_vec())),
        (b"hard".to_vec(), Some(b"../../etc/passwd".to_vec())),
        (format!("{}/x", "../".repeat(40)).into_bytes(), None),
    ];
    assert_eq!(seen, expected);
}

#[test]
fn a_stopped_registry_leaves_nothing_and_stale_ones_are_reclaimed() {
    // The directory of a registry whose test process is gone (killed outright).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let stale: PathBuf = std::env::temp_dir().join(format!("workshop-registry-{gone_pid}-0"));
    std::fs::create_dir_all(stale.join("storage")).unwrap();

    let registry = Registry::start();
    assert!(!stale.exists(), "{} was not reclaimed", stale.display());
    let pid = registry.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(registry_processes_in(registry.dir()), [pid]);
    let v2 = registry.get("/v2/", &[]);
    assert_eq!(v2.status, 200);
    assert_eq!(v2.header("Docker-Distribution-Api-Version"), Some("registry/2.0"));
    stop(registry);
}
