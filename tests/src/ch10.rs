//! Chapter 10: the layer cache. The same real registry as chapter 09; the
//! registry's own access log counts what each pull fetched.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::ch09::{busybox_layer, marker, Fixture};
use crate::oci::{self, Entry, ImageSpec};
use crate::{NetNs, Sandbox};

/// The store's root.
const STORE_DIR: &str = "/var/lib/workshop/store";

fn layer_dir(layer: &oci::Layer) -> PathBuf {
    Path::new(STORE_DIR)
        .join("layers")
        .join(layer.diff_id.trim_start_matches("sha256:"))
}

fn blob_file(digest: &str) -> PathBuf {
    Path::new(STORE_DIR)
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Removes from the store what a check's images put there (their layers are the
/// check's own: every image of a check has a layer no other check has): image
/// records, layers, and blobs (layers' and configs').
struct Cleanup(Vec<oci::Layer>, Vec<String>, Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for reference in &self.1 {
            let key = oci::sha256_digest(reference.as_bytes());
            let _ = std::fs::remove_file(
                Path::new(STORE_DIR)
                    .join("images")
                    .join(format!("{}.json", key.trim_start_matches("sha256:"))),
            );
        }
        for layer in &self.0 {
            let _ = std::fs::remove_dir_all(layer_dir(layer));
            let _ = std::fs::remove_file(blob_file(&layer.digest));
        }
        for config in &self.2 {
            let _ = std::fs::remove_file(blob_file(config));
        }
    }
}

/// A base layer of the check's own, and two images on it.
fn two_images_sharing_a_base(check: &str) -> (oci::Layer, oci::Layer, oci::Layer) {
    let base = oci::layer(&[
        Entry::dir("etc", 0o755),
        Entry::file(
            "etc/base",
            0o644,
            format!("the shared base of {check} {}\n", std::process::id()),
        ),
    ]);
    (base, marker(&format!("{check} a")), marker(&format!("{check} b")))
}

/// A layer shared by two images is fetched and unpacked once.
pub fn a_shared_layer_is_fetched_once(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (base, a, b) = two_images_sharing_a_base("shared");
    let (image_a, written_image_a) = fixture.push(
        "shared-a",
        "v1",
        &[ImageSpec::new(vec![base.clone(), a.clone()])],
        false,
    );
    let (image_b, written_image_b) = fixture.push(
        "shared-b",
        "v1",
        &[ImageSpec::new(vec![base.clone(), b.clone()])],
        false,
    );
    let _cleanup = Cleanup(
        vec![base.clone(), a.clone(), b.clone()],
        vec![image_a.clone(), image_b.clone()],
        [written_image_a.configs.clone(), written_image_b.configs.clone()].concat(),
    );
    let first = fixture.pull(&image_a);
    let second = fixture.pull(&image_b);
    let base_fetches = fixture.registry.fetches_of_blob(&base.digest);
    let b_fetches = fixture.registry.fetches_of_blob(&b.digest);
    expect(
        first.code == Some(0)
            && second.code == Some(0)
            && base_fetches == 1
            && b_fetches == 1
            && [&base, &a, &b].iter().all(|l| layer_dir(l).is_dir()),
        &format!("the base both images share should be fetched once (fetched {base_fetches} times) and unpacked once"),
        "`commit` in src/store.rs; the pull looks for a layer's diff ID in the store first",
        &second,
    );
}

/// Pulling an image the store has fetches no blob at all.
pub fn a_second_pull_fetches_no_blob(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (base, a, _) = two_images_sharing_a_base("again");
    let (image, written_image) = fixture.push("again", "v1", &[ImageSpec::new(vec![base.clone(), a.clone()])], false);
    let _cleanup = Cleanup(
        vec![base, a],
        vec![image.clone()],
        [written_image.configs.clone()].concat(),
    );
    let first = fixture.pull(&image);
    let fetched = fixture.registry.blob_fetches("workshop/again");
    let second = fixture.pull(&image);
    let refetched = fixture.registry.blob_fetches("workshop/again") - fetched;
    expect(
        first.code == Some(0) && second.code == Some(0) && fetched == 3 && refetched == 0,
        &format!(
            "the first pull should fetch 3 blobs (config, 2 layers), the second none ({fetched}, then {refetched})"
        ),
        "`commit` in src/store.rs",
        &second,
    );
}

/// On a terminal, a pull shows each layer as `docker pull` does, and says which
/// layers the cache already had ("Already exists"); piped, it shows nothing.
pub fn pull_progress_shows_what_is_cached(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (base, a, b) = two_images_sharing_a_base("progress");
    let (image, written) = fixture.push(
        "progress",
        "v1",
        &[ImageSpec::new(vec![base.clone(), a.clone()])],
        false,
    );
    let (image_b, written_b) = fixture.push(
        "progress-b",
        "v1",
        &[ImageSpec::new(vec![base.clone(), b.clone()])],
        false,
    );
    let _cleanup = Cleanup(
        vec![base.clone(), a.clone(), b.clone()],
        vec![image.clone(), image_b.clone()],
        [written.configs.clone(), written_b.configs.clone()].concat(),
    );
    let first = fixture.pull_on_terminal(&image);
    let second = fixture.pull_on_terminal(&image);
    let piped = fixture.pull(&image);
    crate::ch09::check_progress(&image, &written, &[&base, &a], &first, &second, &piped);
    let sharing = fixture.pull_on_terminal(&image_b);
    let short = |layer: &oci::Layer| layer.digest.trim_start_matches("sha256:")[..12].to_string();
    let lines = sharing.screen_lines();
    assert!(
        sharing.code == Some(0)
            && lines.contains(&format!("{}: Already exists", short(&base)))
            && lines.contains(&format!("{}: Pull complete", short(&b))),
        "pulling an image that shares its base layer with one in the store should show the base as \
         \"SHORTID: Already exists\" and fetch only its own layer (\"SHORTID: Pull complete\");\n\
         the terminal showed:\n{lines:#?}\n\nWhere to look: `commit` in src/store.rs (the layer must be in the store)"
    );
}

/// `run` stacks the image's layers (whiteouts and opaque directories included) as
/// overlay lower directories: nothing is copied per container.
pub fn layers_are_stacked_with_their_whiteouts(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let bottom = busybox_layer(binary);
    let middle = oci::layer(&[
        Entry::dir("opt", 0o755),
        Entry::file("opt/old", 0o644, "hidden by the opaque layer above\n"),
        Entry::file("opt/also-old", 0o644, "hidden too\n"),
    ]);
    let top = oci::layer(&[
        Entry::whiteout("workshop-rootfs"),
        Entry::dir("opt", 0o755),
        Entry::opaque("opt"),
        Entry::file("opt/new", 0o644, "on top\n"),
    ]);
    let mark = marker("stacked");
    let spec = ImageSpec::new(vec![bottom.clone(), middle.clone(), top.clone(), mark.clone()]);
    let (image, written_image) = fixture.push("stacked", "v1", &[spec], false);
    let _cleanup = Cleanup(
        vec![bottom.clone(), middle.clone(), top.clone(), mark.clone()],
        vec![image.clone()],
        [written_image.configs.clone()].concat(),
    );
    let pulled = fixture.pull(&image);
    let before: Vec<String> = [&bottom, &middle, &top, &mark]
        .iter()
        .map(|l| oci::tree_listing(&layer_dir(l)).join("\n"))
        .collect();
    let netns = NetNs::new();
    let mut sandbox = Sandbox::new(binary);
    sandbox.in_netns(&netns);
    let args: Vec<String> = [
        "run",
        "-v",
        &image,
        "/bin/sh",
        "-c",
        "ls /; ls /opt; echo changed > /opt/new; cat /etc/made-for",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let output = sandbox.run_raw(&args, None, &[]);
    let after: Vec<String> = [&bottom, &middle, &top, &mark]
        .iter()
        .map(|l| oci::tree_listing(&layer_dir(l)).join("\n"))
        .collect();
    let lowers = output
        .stderr
        .lines()
        .find(|l| l.contains("lowerdir="))
        .unwrap_or("")
        .matches(":/var/lib/workshop/store/layers/")
        .count();
    expect(
        pulled.code == Some(0)
            && output.code == Some(0)
            && !output.stdout.contains("workshop-rootfs")
            && output.stdout.contains("bin\n")
            && output.stdout.contains("new\n")
            && !output.stdout.contains("old\n")
            && lowers == 3
            && before == after,
        &format!("the container should see the layers stacked (a whited-out file gone, an opaque directory showing only the top's entries), from 4 layers mounted as overlay lowers ({} found), and no layer may change", lowers + 1),
        "`mark_one` in src/whiteouts.rs: whiteouts as 0:0 character devices, opaque directories as user.overlay.opaque=y",
        &output,
    );
}

/// `rmi` removes an image and the layers no other image uses.
pub fn rmi_collects_unused_layers(binary: &str) {
    let mut fixture = Fixture::new(binary);
    let (base, a, b) = two_images_sharing_a_base("rmi");
    let (image_a, written_image_a) =
        fixture.push("rmi-a", "v1", &[ImageSpec::new(vec![base.clone(), a.clone()])], false);
    let (image_b, written_image_b) =
        fixture.push("rmi-b", "v1", &[ImageSpec::new(vec![base.clone(), b.clone()])], false);
    let _cleanup = Cleanup(
        vec![base.clone(), a.clone(), b.clone()],
        vec![image_a.clone(), image_b.clone()],
        [written_image_a.configs.clone(), written_image_b.configs.clone()].concat(),
    );
    fixture.pull(&image_a);
    fixture.pull(&image_b);
    let sandbox = Sandbox::new(binary);
    let rmi = |image: &str| sandbox.run_raw(&["rmi".to_string(), image.to_string()], None, &[]);
    let first = rmi(&image_a);
    let after_first = (
        layer_dir(&base).is_dir(),
        layer_dir(&a).is_dir(),
        layer_dir(&b).is_dir(),
    );
    let second = rmi(&image_b);
    let after_second = (
        layer_dir(&base).is_dir(),
        layer_dir(&b).is_dir(),
        blob_file(&base.digest).exists(),
    );
    let listed = sandbox.run_raw(&["images".to_string()], None, &[]);
    expect(
        first.code == Some(0) && after_first == (true, false, true),
        &format!("rmi of the first image should remove its own layer and keep the shared base (base, a, b present: {after_first:?})"),
        "`unreferenced` in src/gc.rs",
        &first,
    );
    expect(
        second.code == Some(0) && after_second == (false, false, false) && !listed.stdout.contains("workshop/rmi-"),
        &format!(
            "rmi of the second image should remove the base too, and its blobs (base, b, base blob: {after_second:?})"
        ),
        "`unreferenced` in src/gc.rs",
        &second,
    );
}

/// Two pulls of the same image at once both succeed, and the store holds it once.
pub fn concurrent_pulls_are_safe(binary: &str) {
    let fixture = Fixture::new(binary);
    let (base, a, _) = two_images_sharing_a_base("concurrent");
    let (image, written_image) = fixture.push(
        "concurrent",
        "v1",
        &[ImageSpec::new(vec![base.clone(), a.clone()])],
        false,
    );
    let _cleanup = Cleanup(
        vec![base.clone(), a.clone()],
        vec![image.clone()],
        [written_image.configs.clone()].concat(),
    );
    let sandbox = Sandbox::new(binary);
    let start = || {
        let mut command = std::process::Command::new(binary);
        command
            .args(["pull", &image])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    };
    let pulls = [start(), start()];
    let outputs: Vec<_> = pulls.into_iter().map(|p| p.wait_with_output().unwrap()).collect();
    let ok = outputs.iter().all(|o| o.status.success());
    let listed = sandbox.run_raw(&["images".to_string()], None, &[]);
    let copies = std::fs::read_dir(Path::new(STORE_DIR).join("layers"))
        .map(|d| d.flatten().filter(|e| e.path() == layer_dir(&base)).count())
        .unwrap_or(0);
    expect(
        ok && copies == 1 && listed.stdout.contains("workshop/concurrent"),
        &format!(
            "two pulls at once should both succeed and leave one copy of each layer (stderr: {:?})",
            outputs
                .iter()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .collect::<Vec<_>>()
        ),
        "`commit` in src/store.rs: a rename that finds the place taken keeps the other pull's copy",
        &listed,
    );
}

/// A pull killed half-way leaves nothing a later pull trusts, and the later pull completes.
pub fn a_killed_pull_leaves_nothing_trusted(binary: &str) {
    let fixture = Fixture::new(binary);
    // A big layer, so that the pull is still downloading when it is killed.
    let big: Vec<u8> = (0..40u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let heavy = oci::layer(&[Entry::dir("data", 0o755), Entry::file("data/big", 0o644, big)]);
    let mark = marker("killed");
    let (image, written_image) = fixture.push(
        "killed",
        "v1",
        &[ImageSpec::new(vec![heavy.clone(), mark.clone()])],
        false,
    );
    let _cleanup = Cleanup(
        vec![heavy.clone(), mark.clone()],
        vec![image.clone()],
        [written_image.configs.clone()].concat(),
    );
    let mut pull = std::process::Command::new(binary)
        .args(["pull", &image])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has started on the big blob.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fixture.registry.fetches_of_blob(&heavy.digest) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pull.id() as i32), Signal::SIGKILL);
    let _ = pull.wait();
    let trusted_early = layer_dir(&heavy).exists();
    let sandbox = Sandbox::new(binary);
    let later = sandbox.run_raw(&["pull".to_string(), image.clone()], None, &[]);
    let big_ok = std::fs::metadata(layer_dir(&heavy).join("data/big"))
        .map(|m| m.len() == 40 << 20)
        .unwrap_or(false);
    expect(
        !trusted_early && later.code == Some(0) && big_ok,
        "a pull killed while downloading should leave no layer in the store, and the next pull should complete it",
        "`commit` in src/store.rs: verify in the work directory, then rename into place",
        &later,
    );
}

/// `--rootfs DIR` still works as in the chapters before.
pub fn the_rootfs_flag_still_works(binary: &str) {
    crate::ch09::the_rootfs_flag_still_works(binary);
}
