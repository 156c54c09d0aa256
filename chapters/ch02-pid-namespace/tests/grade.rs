//! The grader for chapter 02. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch02;

const BINARY: &str = env!("CARGO_BIN_EXE_ch02-pid-namespace");

#[test]
fn pid_namespace_flags_the_command_is_pid_1() {
    ch02::the_command_is_pid_1(BINARY);
}

#[test]
fn pid_namespace_flags_verbose_prints_the_host_pid() {
    ch02::verbose_prints_the_host_pid(BINARY);
}

#[test]
fn pid_namespace_flags_pid_1_ignores_sigterm_without_a_handler() {
    ch02::pid_1_ignores_sigterm_without_a_handler(BINARY);
}

#[test]
fn pid_namespace_flags_signals_reach_pid_1() {
    ch02::signals_reach_pid_1(BINARY);
}

#[test]
fn mount_proc_ps_lists_only_the_container() {
    ch02::ps_lists_only_the_container(BINARY);
}

#[test]
fn mount_proc_the_mount_is_removed_at_exit() {
    ch02::the_proc_mount_is_removed_at_exit(BINARY);
}

#[test]
fn mount_proc_a_stale_mount_is_reclaimed() {
    ch02::a_stale_proc_mount_is_reclaimed(BINARY);
}

#[test]
fn mount_proc_without_init_an_orphan_stays_a_zombie() {
    ch02::without_init_an_orphan_stays_a_zombie(BINARY);
}

#[test]
fn reap_children_init_reaps_orphans() {
    ch02::init_reaps_orphans(BINARY);
}

#[test]
fn reap_children_init_forwards_signals_and_the_exit_status() {
    ch02::init_forwards_signals_and_the_exit_status(BINARY);
}

#[test]
fn chapter_01_still_holds() {
    ch02::chapter_01_still_holds(BINARY);
}
