//! The grader for chapter 07. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch07;

const BINARY: &str = env!("CARGO_BIN_EXE_ch07-overlayfs");

#[test]
fn mount_overlay_the_rootfs_is_never_changed() {
    ch07::the_rootfs_is_never_changed(BINARY);
}

#[test]
fn mount_overlay_a_deleted_file_is_a_whiteout() {
    ch07::a_deleted_file_is_a_whiteout(BINARY);
}

#[test]
fn mount_overlay_containers_do_not_see_each_others_writes() {
    ch07::containers_do_not_see_each_others_writes(BINARY);
}

#[test]
fn mount_overlay_nothing_of_the_overlay_remains() {
    ch07::nothing_of_the_overlay_remains(BINARY);
}

#[test]
fn bind_volume_data_persists() {
    ch07::volume_data_persists(BINARY);
}

#[test]
fn bind_volume_a_read_only_volume_refuses_writes() {
    ch07::a_read_only_volume_refuses_writes(BINARY);
}

#[test]
fn bind_volume_a_read_only_volume_from_a_locked_mount() {
    ch07::a_read_only_volume_from_a_locked_mount(BINARY);
}

#[test]
fn chapter_06_still_holds() {
    ch07::chapter_06_still_holds(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_bad_volumes_are_refused() {
    ch07::bad_volumes_are_refused(BINARY);
}
