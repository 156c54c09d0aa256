//! The workshop's state on a tiny filesystem that fills up, during a pull or a
//! run: a clear error, and nothing half-written kept or left behind.

use super::*;

#[test]
fn a_pull_into_a_full_store_fails_clearly_and_a_later_pull_verifies() {
    let mut random = Random::new("full store");
    let image = PushedImage::new("soak-full-store", 3, 2 << 20, &mut random);
    // The store, in a mount namespace of the test's own, on a 3 MB tmpfs.
    let mounts = PrivateMounts::with_tmpfs(&[(store::STORE_DIR, "size=3m")]);
    let root = mounts.path(store::STORE_DIR);
    let pull = |mounts: &PrivateMounts| {
        let mut command = mounts.enter(None);
        command
            .args([&runtime(), "pull", &image.reference])
            .stdin(Stdio::null());
        output_of(command)
    };
    let full = pull(&mounts);
    let (used, total) = mounts.usage(store::STORE_DIR);
    check(
        full.code == Some(1) && full.stderr.contains("No space left on device"),
        "a pull into a full store should fail, saying the disk is full",
        &full,
    );
    let verified = check_store(&root, "a pull into a full store");
    check(!image.is_whole_in(&root), "a failed pull should record no image", &full);
    let work_dirs: Vec<_> = std::fs::read_dir(root.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    check(
        work_dirs.is_empty(),
        &format!("the failed pull should remove its work directory: {work_dirs:?}"),
        &full,
    );
    mounts.remount(store::STORE_DIR, "size=64m");
    let later = pull(&mounts);
    check(
        later.code == Some(0) && image.is_whole_in(&root),
        "with space again, the pull should complete",
        &later,
    );
    let after = check_store(&root, "the pull with space");
    let host = image.anything_in(Path::new(store::STORE_DIR));
    assert!(host.is_empty(), "the host's own store changed: {host:?}");
    eprintln!(
        "full store: the pull failed with the store's tmpfs full ({} of {} kB used), {} blob(s) it had kept \
         verified; with space the pull completed and {} blobs verified",
        used / 1024,
        total / 1024,
        verified.blobs,
        after.blobs
    );
}

#[test]
fn a_run_that_fills_its_state_directory_fails_clearly_and_leaves_nothing() {
    let netns = NetNs::new();
    let sandbox = sandbox_in(&netns);
    let volume = volume_dir(&sandbox, "volume");
    let flags = every_mechanism(&volume, "full");
    let run_in = |mounts: &PrivateMounts, command: &[&str]| {
        let mut full = mounts.enter(Some(&netns));
        full.arg(runtime()).args(sandbox.run_args(&strs(&flags), command));
        let output = output_of(full);
        sandbox.assert_no_mount_left(&output);
        output
    };

    // The containers' writable layers on a 1 MB tmpfs, which the container fills.
    let mounts = PrivateMounts::with_tmpfs(&[(leftovers::CONTAINERS_DIR, "size=1m")]);
    let filled = run_in(&mounts, &["/bin/sh", "-c", "dd if=/dev/zero of=/fill bs=64k count=64"]);
    let layers_left: Vec<_> = std::fs::read_dir(mounts.path(leftovers::CONTAINERS_DIR))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    check(
        filled.code == Some(1) && filled.stderr.contains("No space left on device"),
        "a container that fills its writable layer should see ENOSPC, and the runtime exit with its status",
        &filled,
    );
    check(
        layers_left.is_empty(),
        &format!("the full writable layer should be removed at the end: {layers_left:?}"),
        &filled,
    );
    check_nothing_left(&filled.container_id(), &netns, &filled);
    let again = run_in(&mounts, &["/bin/true"]);
    check(
        again.code == Some(0),
        "after it, the same state directory should work",
        &again,
    );
    drop(mounts);

    // /run/workshop full (no inode left): the run cannot even take its lock.
    let before = leftovers::stale();
    let mounts = PrivateMounts::with_tmpfs(&[("/run/workshop", "size=64k,nr_inodes=1")]);
    let refused = run_in(&mounts, &["/bin/true"]);
    check(
        refused.code == Some(125)
            && refused.stderr.contains("/run/workshop")
            && refused.stderr.contains("No space left on device"),
        "a run whose state directory is full should fail with 125, naming the directory and the full disk",
        &refused,
    );
    let links = netns.links();
    let new_stale: Vec<String> = leftovers::stale().difference(&before).cloned().collect();
    check(
        new_stale.is_empty() && links == ["lo", "workshop0"],
        &format!("the refused run should leave nothing: {new_stale:?}, links {links:?}"),
        &refused,
    );
    eprintln!("full state directory: a container filling its 1 MB writable layer got ENOSPC and left nothing; a full /run/workshop refused the run with 125");
}
