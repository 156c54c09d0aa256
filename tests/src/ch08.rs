//! Chapter 08: the network namespace, the veth pair, the bridge and the leases.
//!
//! Every check makes a network namespace of its own to be the containers' "host"
//! ([`NetNs`]): the machine's real network is never touched, and no packet leaves
//! that namespace.

use std::path::Path;

use nix::sys::signal::Signal;

use crate::ch01::expect;
use crate::ch05::MAPPED_ROOT;
use crate::{NetNs, Sandbox};

/// A sandbox (rootfs owned by the mapped root) whose runs start in `netns`.
fn sandbox(binary: &str, netns: &NetNs) -> Sandbox {
    let mut sandbox = Sandbox::new(binary);
    sandbox.chown_rootfs(MAPPED_ROOT, MAPPED_ROOT);
    sandbox.in_netns(netns);
    sandbox
}

/// "eth0 up 10.88.0.N/24" -> the address.
fn eth0_address(net: &str) -> Option<String> {
    net.lines()
        .find_map(|l| l.strip_prefix("eth0 up ")?.split('/').next().map(str::to_string))
}

/// The container sees only lo and eth0, with an address of the workshop's subnet.
pub fn the_container_has_lo_and_eth0(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    let output = sandbox.run(&[], &["/bin/probe", "net"]);
    let address = eth0_address(&output.stdout).unwrap_or_default();
    expect(
        address.starts_with("10.88.0.") && output.stdout.lines().count() == 2,
        "the container should have exactly lo (127.0.0.1/8) and eth0 (10.88.0.N/24), both up",
        "`configure_container_interface` in src/network.rs",
        &output,
    );
    insta::assert_snapshot!("ch08_interfaces", output.stdout.replace(&address, "10.88.0.[N]"));
}

/// The container reaches its gateway, the bridge.
pub fn the_gateway_is_reachable(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    let output = sandbox.run(&[], &["/bin/ping", "-c", "1", "-W", "3", "10.88.0.1"]);
    expect(
        output.code == Some(0) && output.stdout.contains("1 packets received"),
        "ping 10.88.0.1 (the bridge workshop0, the gateway) should get an answer",
        "`create_veth_pair` and `configure_container_interface` in src/network.rs",
        &output,
    );
}

/// Two containers on the bridge talk to each other over TCP.
pub fn two_containers_talk_over_tcp(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    let mut server = sandbox.spawn(&[], &["/bin/sh", "-c", "/bin/probe net; /bin/probe tcp-serve 7000"]);
    let address = eth0_address(&server.wait_for_line("eth0 ")).unwrap_or_default();
    server.wait_for_line("listening on 7000");
    let client = sandbox.run(
        &[],
        &[
            "/bin/sh",
            "-c",
            &format!("/bin/probe net; /bin/probe tcp-send {address}:7000 hello"),
        ],
    );
    let server = server.wait();
    let client_address = eth0_address(&client.stdout).unwrap_or_default();
    expect(
        client.stdout.contains("ok")
            && server
                .stdout
                .contains(&format!("received \"hello\" from {client_address}"))
            && client_address != address,
        "a container should reach another over TCP through the bridge, each with its own address",
        "`create_veth_pair` in src/network.rs: both host ends must be on the bridge, and up",
        &client,
    );
}

/// Containers started at the same moment get different addresses.
pub fn concurrent_containers_get_distinct_addresses(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    let mut running: Vec<_> = (0..5)
        .map(|_| sandbox.spawn(&[], &["/bin/sh", "-c", "/bin/probe net; /bin/probe signals"]))
        .collect();
    let mut addresses: Vec<String> = running
        .iter_mut()
        .map(|r| eth0_address(&r.wait_for_line("eth0 ")).unwrap_or_default())
        .collect();
    for r in &mut running {
        r.wait_for_line("ready");
        r.signal(Signal::SIGTERM);
    }
    let outputs: Vec<_> = running.iter_mut().map(|r| r.wait()).collect();
    addresses.sort();
    let before = addresses.len();
    addresses.dedup();
    expect(
        before == 5 && addresses.len() == 5 && addresses.iter().all(|a| a.starts_with("10.88.0.")),
        &format!("5 containers started at once should get 5 different addresses (got {addresses:?})"),
        "`try_lease` in src/ipam.rs: an address leased to a running container must not be leased again",
        &outputs[0],
    );
}

/// `--net none`: only lo, and no way out.
pub fn net_none_has_only_lo(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    let output = sandbox.run(
        &["--net", "none"],
        &["/bin/sh", "-c", "/bin/probe net; /bin/probe tcp-send 10.88.0.1:80 x"],
    );
    expect(
        output.stdout == "lo up 127.0.0.1/8\ntcp-send 10.88.0.1:80: ENETUNREACH\n",
        "with --net none, the container should have only lo, up, and no route anywhere",
        "`Network::child_before_exec` in src/network.rs",
        &output,
    );
}

/// `--net host`: the container sees the host's interfaces.
pub fn net_host_shares_the_hosts_network(binary: &str) {
    let netns = NetNs::new();
    netns.ip(&["link", "add", "hostonly0", "type", "veth", "peer", "name", "hostonly1"]);
    let sandbox = sandbox(binary, &netns);
    let output = sandbox.run(&["--net", "host"], &["/bin/probe", "net"]);
    expect(
        output.stdout.contains("hostonly0 down") && !output.stdout.contains("eth0"),
        "with --net host, the container should see the host's interfaces (here a veth pair hostonly0/1)",
        "`Network::clone_flags` in src/network.rs: no CLONE_NEWNET for host",
        &output,
    );
}

/// After the container ends, no veth and no lease of its remains; the bridge stays.
pub fn no_veth_or_lease_remains(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    // A normal end, a command that cannot start, and Ctrl-C.
    let mut outputs = vec![
        sandbox.run(&["-v"], &["/bin/probe", "net"]),
        sandbox.run(&["-v"], &["/no/such/command"]),
    ];
    let mut running = sandbox.spawn(&["-v"], &["/bin/probe", "signals"]);
    running.wait_for_line("ready");
    running.signal(Signal::SIGINT);
    outputs.push(running.wait());
    for output in &outputs {
        let (id, address) = (
            output.container_id(),
            output.said("gets the address ").unwrap_or_default(),
        );
        let holder = std::fs::read_to_string(Path::new("/run/workshop/leases").join(&address)).unwrap_or_default();
        let links = netns.links();
        expect(
            !address.is_empty() && links == ["lo", "workshop0"] && holder != id,
            &format!(
                "after the run, the host should keep only lo and the bridge (links: {links:?}), and no lease for {id}"
            ),
            "`Network::cleanup` in src/network.rs: delete the host's end of the veth pair, release the lease",
            output,
        );
    }
}

/// A veth pair left by a runtime killed before it moved one end into its
/// container (both ends still on the host) is removed by the next run.
pub fn a_stale_veth_pair_is_reclaimed(binary: &str) {
    let netns = NetNs::new();
    netns.ip(&[
        "link",
        "add",
        "veth0000dead",
        "type",
        "veth",
        "peer",
        "name",
        "ceth0000dead",
    ]);
    let sandbox = sandbox(binary, &netns);
    let output = sandbox.run(&[], &["/bin/true"]);
    let links = netns.links();
    expect(
        output.code == Some(0) && links == ["lo", "workshop0"] && output.stderr.contains("left by an earlier run"),
        &format!("the stale pair veth0000dead/ceth0000dead should be removed by the next run (links: {links:?})"),
        "`reclaim_stale_veths` in src/network.rs",
        &output,
    );
}

/// A bad `--net` is refused.
pub fn a_bad_net_mode_is_refused(binary: &str) {
    let netns = NetNs::new();
    let sandbox = sandbox(binary, &netns);
    let output = sandbox.run(&["--net", "wifi"], &["/bin/true"]);
    expect(
        output.code == Some(125) && output.stderr.contains("--net"),
        "--net wifi should be refused with exit status 125",
        "src/lib.rs (NetArgs)",
        &output,
    );
}

/// Chapter 07's behaviour still holds (its runs in a network namespace of the check's own).
pub fn chapter_07_still_holds(binary: &str) {
    let netns = NetNs::new();
    crate::netns::with_every_run_in(&netns, || {
        crate::ch07::the_rootfs_is_never_changed(binary);
        crate::ch07::volume_data_persists(binary);
        crate::ch06::limits_are_seen_inside(binary);
        crate::ch05::root_inside_with_the_mapping(binary);
        crate::ch03::the_chroot_escape_fails(binary);
    });
}
