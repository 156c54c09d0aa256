//! The grader for chapter 05. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch05;

const BINARY: &str = env!("CARGO_BIN_EXE_ch05-user-namespace-solution");

#[test]
fn write_id_maps_root_inside_with_the_mapping() {
    ch05::root_inside_with_the_mapping(BINARY);
}

#[test]
fn write_id_maps_another_range_can_be_chosen() {
    ch05::another_range_can_be_chosen(BINARY);
}

#[test]
fn become_root_the_host_sees_the_mapped_ids() {
    ch05::the_host_sees_the_mapped_ids(BINARY);
}

#[test]
fn become_root_files_made_inside_belong_to_the_mapped_ids() {
    ch05::files_made_inside_belong_to_the_mapped_ids(BINARY);
}

#[test]
fn become_root_on_a_root_owned_rootfs_runs_with_a_note() {
    ch05::a_root_owned_rootfs_runs_with_a_note(BINARY);
}

#[test]
fn root_inside_is_nobody_outside() {
    ch05::root_inside_is_nobody_outside(BINARY);
}

#[test]
fn a_container_dies_with_its_runtime() {
    ch05::a_container_dies_with_its_runtime(BINARY);
}

#[test]
fn chapter_04_still_holds() {
    ch05::chapter_04_still_holds(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_a_bad_map_is_refused() {
    ch05::a_bad_map_is_refused(BINARY);
}
