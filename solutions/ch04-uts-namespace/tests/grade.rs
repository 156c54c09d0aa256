//! The grader for chapter 04. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch04;

const BINARY: &str = env!("CARGO_BIN_EXE_ch04-uts-namespace-solution");

#[test]
fn set_hostname_the_container_has_its_own_hostname() {
    ch04::the_container_has_its_own_hostname(BINARY);
}

#[test]
fn set_hostname_the_default_is_the_container_id() {
    ch04::the_default_hostname_is_the_container_id(BINARY);
}

#[test]
fn ipc_namespace_flags_host_ipc_objects_are_invisible() {
    ch04::host_ipc_objects_are_invisible(BINARY);
}

#[test]
fn ipc_namespace_flags_ipc_objects_go_with_the_container() {
    ch04::ipc_objects_go_with_the_container(BINARY);
}

#[test]
fn the_mount_table_has_mqueue() {
    ch04::the_mount_table_has_mqueue(BINARY);
}

#[test]
fn chapter_03_still_holds() {
    ch04::chapter_03_still_holds(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_a_bad_hostname_is_refused() {
    ch04::a_bad_hostname_is_refused(BINARY);
}
