//! The grader for chapter 01. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch01;

const BINARY: &str = env!("CARGO_BIN_EXE_ch01-chroot");

#[test]
fn enter_rootfs_the_rootfs_is_the_root() {
    ch01::the_rootfs_is_the_root(BINARY);
}

#[test]
fn enter_rootfs_the_chroot_escape_works() {
    ch01::the_chroot_escape_works(BINARY);
}

#[test]
fn enter_rootfs_stdio_passes_through() {
    ch01::stdio_passes_through(BINARY);
}

#[test]
fn enter_rootfs_verbose_narrates_the_kernel_calls() {
    ch01::verbose_narrates_the_kernel_calls(BINARY);
}

#[test]
fn find_in_path_finds_commands() {
    ch01::commands_are_found_in_path(BINARY);
}

#[test]
fn find_in_path_a_missing_command_is_127() {
    ch01::a_missing_command_is_127(BINARY);
}

#[test]
fn find_in_path_a_non_executable_command_is_126() {
    ch01::a_non_executable_command_is_126(BINARY);
}

#[test]
fn container_env_is_clean() {
    ch01::the_environment_is_clean(BINARY);
}

#[test]
fn exit_code_is_the_commands() {
    ch01::the_exit_code_is_the_commands(BINARY);
}

#[test]
fn exit_code_after_a_signal_is_128_plus_n() {
    ch01::a_signal_death_is_128_plus_n(BINARY);
}

#[test]
fn exit_code_signals_reach_the_container() {
    ch01::signals_reach_the_container(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_a_missing_rootfs_is_a_clear_error() {
    ch01::a_missing_rootfs_is_a_clear_error(BINARY);
}

#[test]
fn regression_a_background_runtime_still_forwards_sigint() {
    ch01::a_background_runtime_still_forwards_sigint(BINARY);
}

#[test]
fn regression_a_bad_flag_is_125() {
    ch01::a_bad_flag_is_125(BINARY);
}
