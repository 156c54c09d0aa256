//! The grader for chapter 10. Each test starts a real registry on loopback
//! (Debian's docker-registry), pushes images with skopeo, and runs this chapter's
//! binary as a user would; its name starts with the exercise it grades. The
//! registry's access log says what each pull fetched.

use workshop_grader::ch10;

const BINARY: &str = env!("CARGO_BIN_EXE_ch10-layer-cache-solution");

#[test]
fn commit_a_shared_layer_is_fetched_once() {
    ch10::a_shared_layer_is_fetched_once(BINARY);
}

#[test]
fn commit_a_second_pull_fetches_no_blob() {
    ch10::a_second_pull_fetches_no_blob(BINARY);
}

#[test]
fn commit_concurrent_pulls_are_safe() {
    ch10::concurrent_pulls_are_safe(BINARY);
}

#[test]
fn commit_a_killed_pull_leaves_nothing_trusted() {
    ch10::a_killed_pull_leaves_nothing_trusted(BINARY);
}

#[test]
fn mark_one_layers_are_stacked_with_their_whiteouts() {
    ch10::layers_are_stacked_with_their_whiteouts(BINARY);
}

#[test]
fn unreferenced_rmi_collects_unused_layers() {
    ch10::rmi_collects_unused_layers(BINARY);
}

#[test]
fn commit_pull_progress_shows_what_is_cached() {
    ch10::pull_progress_shows_what_is_cached(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_the_rootfs_flag_still_works() {
    ch10::the_rootfs_flag_still_works(BINARY);
}
