//! Bad input, each refused with an error that says what is wrong, and nothing
//! changed outside the workshop's state.

use super::*;

/// What bad input changed outside the workshop's state: the netns's links, the
/// sandbox's mounts, the rootfs, stale state, and what the run's id names.
fn check_changed_nothing(sandbox: &Sandbox, netns: &NetNs, rootfs_before: &[String], output: &Output) {
    sandbox.assert_no_mount_left(output);
    let links = netns.links();
    check(
        links.iter().all(|l| l == "lo" || l == "workshop0"),
        &format!("bad input should leave no link: {links:?}"),
        output,
    );
    check(
        oci::tree_listing(&sandbox.rootfs) == rootfs_before,
        "bad input should not change the rootfs",
        output,
    );
    let id = output.container_id();
    if id.len() == 12 {
        let left = leftovers::of_container(&id);
        check(left.is_empty(), &format!("bad input left: {left:?}"), output);
    }
}

#[test]
fn bad_run_input_is_refused_clearly_and_changes_nothing() {
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let rootfs_before = oci::tree_listing(&sandbox.rootfs);
    let empty = sandbox.dir.join("empty-rootfs");
    std::fs::create_dir(&empty).unwrap();
    let file = sandbox.dir.join("a-file");
    std::fs::write(&file, "not a directory\n").unwrap();
    let rootfs = sandbox.rootfs.display().to_string();
    let missing = sandbox.dir.join("no-such-dir").display().to_string();
    let run = |args: &[&str]| {
        let args: Vec<String> = std::iter::once("run")
            .chain(["-v"])
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        sandbox.run_raw(&args, None, &[])
    };
    let volume_flag = format!("{missing}:/data");
    // (arguments of run, exit status, what the message must say)
    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["--rootfs", &missing, "--", "/bin/true"],
            125,
            vec![&missing, "does not exist"],
        ),
        (
            vec!["--rootfs", file.to_str().unwrap(), "--", "/bin/true"],
            125,
            vec!["is not a directory"],
        ),
        (
            vec!["--rootfs", empty.to_str().unwrap(), "--", "sh", "-c", "true"],
            127,
            vec!["sh: command not found in the rootfs"],
        ),
        (
            vec!["--rootfs", &rootfs, "--", "/bin/no-such-command"],
            127,
            vec!["/bin/no-such-command", "not found"],
        ),
        (
            vec!["--memory", "1k", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--memory", "1k", "below"],
        ),
        (
            vec!["--memory", "99999999999999g", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--memory", "too large"],
        ),
        (
            vec!["--memory", "-5m", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--memory"],
        ),
        (
            vec!["--cpus", "0", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--cpus", "\"0\""],
        ),
        (
            vec!["--cpus", "-1", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--cpus"],
        ),
        (
            vec!["--cpus", "4096", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--cpus", "4096"],
        ),
        (
            vec!["--cpus", "512", "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec!["--cpus 512", "this machine has only"],
        ),
        (
            vec!["--volume", &volume_flag, "--rootfs", &rootfs, "--", "/bin/true"],
            125,
            vec![&missing, "does not exist"],
        ),
    ];
    for (args, status, words) in &cases {
        let output = run(args);
        check(
            output.code == Some(*status) && words.iter().all(|w| output.stderr.contains(w)),
            &format!("`run {}` should fail with {status}, saying {words:?}", args.join(" ")),
            &output,
        );
        check_changed_nothing(&sandbox, &netns, &rootfs_before, &output);
    }
    eprintln!(
        "bad run input: {} cases refused with a clear error, nothing changed",
        cases.len()
    );
}

#[test]
fn bad_images_and_references_are_refused_clearly_and_change_nothing() {
    let mut random = Random::new("bad images");
    let image = PushedImage::new("soak-bad", 0, 0, &mut random);
    let root = Path::new(store::STORE_DIR);
    let host = image.registry.host();
    // A manifest of 5 MB (the runtime reads at most 4).
    let mut huge =
        br#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "x": ""#.to_vec();
    huge.extend(std::iter::repeat(b'x').take(5 << 20));
    huge.extend(br#""}"#);
    let fake = FakeRegistry::serving(vec![Served {
        repository: "soak/huge".into(),
        media_type: oci::MANIFEST.into(),
        body: huge,
    }]);
    let unknown = format!("{host}/workshop/soak-no-such-image:v1");
    let oversized = format!("{}/soak/huge:v1", fake.host());
    // (pull's argument, what the message must say)
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (&unknown, vec!["not found", "soak-no-such-image"]),
        (
            "Not/A:Reference!",
            vec!["\"Not/A:Reference!\" is not an image reference"],
        ),
        ("UPPER/case", vec!["is not an image reference", "lowercase"]),
        ("name:tag:more", vec!["is not an image reference", "tag"]),
        ("name@sha256:1234", vec!["is not an image reference", "64"]),
        ("", vec!["is not an image reference"]),
        (&oversized, vec!["larger than", "refused"]),
    ];
    let stale_before = leftovers::stale();
    for (reference, words) in &cases {
        let output = output_of(runtime_command(&["pull", reference]));
        check(
            output.code == Some(1) && words.iter().all(|w| output.stderr.contains(w)),
            &format!("`pull {reference}` should fail, saying {words:?}"),
            &output,
        );
        check(
            !store::record_path(root, reference).exists(),
            "a refused pull should record nothing",
            &output,
        );
    }
    // `run` of an unknown image: pulled first, and refused as such.
    // On the host's network (to reach the registry), with --net none: no bridge there.
    let run_unknown = output_of(runtime_command(&["run", "--net", "none", &unknown]));
    check(
        run_unknown.code == Some(125) && run_unknown.stderr.contains("not found"),
        "`run` of an unknown image should fail with 125, saying it is not found",
        &run_unknown,
    );
    check_store(root, "bad references");
    let new_stale: Vec<String> = leftovers::stale().difference(&stale_before).cloned().collect();
    assert!(new_stale.is_empty(), "bad images left {new_stale:?}");
    assert!(image.anything_in(root).is_empty());
    eprintln!(
        "bad images: {} references refused with a clear error, nothing stored",
        cases.len() + 1
    );
}

#[test]
fn a_manifest_of_an_unknown_media_type_is_refused_naming_it() {
    // Docker's old signed format (schema 1), which the runtime does not read.
    let schema1 = br#"{"schemaVersion": 1, "name": "soak/old", "tag": "v1", "fsLayers": [], "history": []}"#.to_vec();
    let fake = FakeRegistry::serving(vec![Served {
        repository: "soak/old".into(),
        media_type: "application/vnd.docker.distribution.manifest.v1+prettyjws".into(),
        body: schema1,
    }]);
    let old = format!("{}/soak/old:v1", fake.host());
    let output = output_of(runtime_command(&["pull", &old]));
    check(
        output.code == Some(1)
            && output
                .stderr
                .contains("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        "a manifest of a media type the runtime does not know (Docker's schema 1) should be refused, naming it",
        &output,
    );
    assert!(!store::record_path(Path::new(store::STORE_DIR), &old).exists());
}

#[test]
fn hostile_layers_are_refused_and_nothing_is_written_outside() {
    let mut random = Random::new("hostile layers");
    let registry = Registry::start();
    let layout = tempfile::Builder::new().prefix("workshop-oci-").tempdir().unwrap();
    let outside = layout.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let root = Path::new(store::STORE_DIR);
    let cases = workshop_grader::ch09::malicious_layers(&outside.display().to_string());
    let mut cleanup = Vec::new();
    for (i, (name, entries)) in cases.iter().enumerate() {
        let marker = oci::layer(&[Entry::file(
            "made-for",
            0o644,
            format!("hostile {i} {} {}", std::process::id(), random.next()),
        )]);
        let hostile = oci::layer(entries);
        let written = oci::write_layout(
            layout.path(),
            &format!("v{i}"),
            &[ImageSpec::new(vec![marker.clone(), hostile.clone()])],
            false,
        );
        oci::push(
            layout.path(),
            &format!("v{i}"),
            &registry,
            &format!("workshop/soak-hostile:v{i}"),
        );
        let reference = format!("{}/workshop/soak-hostile:v{i}", registry.host());
        cleanup.push(StoreCleanup(vec![
            store::blob_path(root, &written.configs[0]),
            store::blob_path(root, &marker.digest),
            store::layer_path(root, &marker.diff_id),
            store::blob_path(root, &hostile.digest),
            store::layer_path(root, &hostile.diff_id),
        ]));
        let output = output_of(runtime_command(&["pull", &reference]));
        let planted = std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(0);
        check(
            output.code == Some(1)
                && output.stderr.contains(name)
                && planted == 0
                && !Path::new("/abs-evil").exists()
                && !store::record_path(root, &reference).exists()
                && !store::layer_path(root, &hostile.diff_id).exists(),
            &format!("a layer with {name:?} should be refused, naming it, with nothing written outside or stored"),
            &output,
        );
    }
    check_store(root, "hostile layers");
    eprintln!(
        "hostile layers: {} refused, nothing written outside the store",
        cases.len()
    );
}

/// Removes these paths from the store when dropped (what a check's pulls kept).
struct StoreCleanup(Vec<PathBuf>);

impl Drop for StoreCleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(path);
            } else {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
