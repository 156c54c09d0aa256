//! The grader for chapter 03. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch03;

const BINARY: &str = env!("CARGO_BIN_EXE_ch03-mount-namespace");

#[test]
fn prepare_new_root_the_host_mount_table_is_unchanged() {
    ch03::the_host_mount_table_is_unchanged(BINARY);
}

#[test]
fn prepare_new_root_two_containers_can_share_a_rootfs() {
    ch03::two_containers_can_share_a_rootfs(BINARY);
}

#[test]
fn pivot_into_the_container_sees_only_its_own_mounts() {
    ch03::the_container_sees_only_its_own_mounts(BINARY);
}

#[test]
fn pivot_into_the_chroot_escape_fails() {
    ch03::the_chroot_escape_fails(BINARY);
}

#[test]
fn pivot_into_host_files_are_out_of_reach() {
    ch03::host_files_are_out_of_reach(BINARY);
}

#[test]
fn mount_dev_is_minimal() {
    ch03::dev_is_minimal(BINARY);
}

#[test]
fn sys_is_read_only_and_tmp_is_private() {
    ch03::sys_is_read_only_and_tmp_is_private(BINARY);
}

#[test]
fn chapter_02_still_holds() {
    ch03::chapter_02_still_holds(BINARY);
}
