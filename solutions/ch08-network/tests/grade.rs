//! The grader for chapter 08. Each test runs this chapter's binary as a user would,
//! in a network namespace of its own that stands for the host; its name starts
//! with the exercise it grades. The checks live in tests/ (the workshop-grader
//! crate), shared by the student crate and the reference solution.

use workshop_grader::ch08;

const BINARY: &str = env!("CARGO_BIN_EXE_ch08-network-solution");

#[test]
fn configure_container_interface_the_container_has_lo_and_eth0() {
    ch08::the_container_has_lo_and_eth0(BINARY);
}

#[test]
fn configure_container_interface_the_gateway_is_reachable() {
    ch08::the_gateway_is_reachable(BINARY);
}

#[test]
fn create_veth_pair_two_containers_talk_over_tcp() {
    ch08::two_containers_talk_over_tcp(BINARY);
}

#[test]
fn create_veth_pair_no_veth_or_lease_remains() {
    ch08::no_veth_or_lease_remains(BINARY);
}

#[test]
fn try_lease_concurrent_containers_get_distinct_addresses() {
    ch08::concurrent_containers_get_distinct_addresses(BINARY);
}

#[test]
fn a_stale_veth_pair_is_reclaimed() {
    ch08::a_stale_veth_pair_is_reclaimed(BINARY);
}

#[test]
fn chapter_07_still_holds() {
    ch08::chapter_07_still_holds(BINARY);
}

// Checks of the runtime around the exercises: they may pass before you start
// (--net none and host use none of this chapter's exercises).

#[test]
fn regression_net_none_has_only_lo() {
    ch08::net_none_has_only_lo(BINARY);
}

#[test]
fn regression_net_host_shares_the_hosts_network() {
    ch08::net_host_shares_the_hosts_network(BINARY);
}

#[test]
fn regression_a_bad_net_mode_is_refused() {
    ch08::a_bad_net_mode_is_refused(BINARY);
}
