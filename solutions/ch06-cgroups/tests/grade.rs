//! The grader for chapter 06. Each test runs this chapter's binary as a user would;
//! its name starts with the exercise it grades. The checks live in tests/ (the
//! workshop-grader crate), shared by the student crate and the reference solution.

use workshop_grader::ch06;

const BINARY: &str = env!("CARGO_BIN_EXE_ch06-cgroups-solution");

#[test]
fn limit_files_limits_are_seen_inside() {
    ch06::limits_are_seen_inside(BINARY);
}

#[test]
fn limit_files_limits_are_set_on_the_host() {
    ch06::limits_are_set_on_the_host(BINARY);
}

#[test]
fn limit_files_over_the_memory_limit_is_oom_killed() {
    ch06::over_the_memory_limit_is_oom_killed(BINARY);
}

#[test]
fn limit_files_a_fork_bomb_stops_at_the_pids_limit() {
    ch06::a_fork_bomb_stops_at_the_pids_limit(BINARY);
}

#[test]
fn limit_files_the_cpu_quota_holds() {
    ch06::the_cpu_quota_holds(BINARY);
}

#[test]
fn join_cgroup_the_container_joins_its_cgroups() {
    ch06::the_container_joins_its_cgroups(BINARY);
}

#[test]
fn join_cgroup_stats_are_printed() {
    ch06::stats_are_printed(BINARY);
}

#[test]
fn remove_cgroup_no_cgroup_is_left_behind() {
    ch06::no_cgroup_is_left_behind(BINARY);
}

#[test]
fn a_stale_cgroup_is_reclaimed() {
    ch06::a_stale_cgroup_is_reclaimed(BINARY);
}

#[test]
fn chapter_05_still_holds() {
    ch06::chapter_05_still_holds(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start.

#[test]
fn regression_bad_limits_are_refused() {
    ch06::bad_limits_are_refused(BINARY);
}
