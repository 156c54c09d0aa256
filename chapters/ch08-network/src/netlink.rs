//! A small rtnetlink client (rtnetlink(7), netlink(7)): what `ip link`, `ip addr`
//! and `ip route` do under the hood, without running them.
//!
//! A netlink socket is a datagram socket whose other end is the kernel. We send
//! one request (a message type such as RTM_NEWLINK, flags, and attributes), and
//! the kernel answers with zero or more replies, then an "ack": an NLMSG_ERROR
//! message whose error code is 0 on success or `-errno` on failure.
//!
//! Everything here is synchronous on purpose: one blocking send, one blocking
//! receive loop. Starting a container must not pay for an async runtime.
//!
//! A netlink socket talks to the network namespace it was *opened* in
//! (network_namespaces(7)), whatever the calling thread does afterwards.

use std::net::Ipv4Addr;

use anyhow::{bail, Context, Result};
use ch01::verbose;
use netlink_packet_core::{
    ErrorMessage, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

/// Interface names are at most IFNAMSIZ - 1 = 15 bytes (netdevice(7)).
const MAX_NAME_LEN: usize = 15;

/// The extended-ack attribute that carries the kernel's own error text
/// (NLMSGERR_ATTR_MSG in <linux/netlink.h>).
const NLMSGERR_ATTR_MSG: u16 = 1;

/// A NETLINK_ROUTE socket and the sequence number of our last request.
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    /// Opens a netlink socket in the calling thread's current network namespace.
    pub fn open() -> Result<Netlink> {
        verbose::say(format_args!("netlink: socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)"));
        let mut socket = Socket::new(NETLINK_ROUTE).context("opening a NETLINK_ROUTE socket failed")?;
        // Port 0 is the kernel: after connect(2), send and recv talk to it only.
        socket.bind_auto().context("binding the netlink socket failed")?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .context("connecting the netlink socket failed")?;
        // Ask for the kernel's error text ("extended ack") and for errors that do
        // not echo our whole request back.
        socket.set_ext_ack(true).context("setting NETLINK_EXT_ACK failed")?;
        socket.set_cap_ack(true).context("setting NETLINK_CAP_ACK failed")?;
        Ok(Netlink { socket, sequence: 0 })
    }

    /// The index of interface `name`, or None if there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(name)?.map(|link| link.header.index))
    }

    /// Creates a bridge named `name` (ip link add NAME type bridge). Error if it exists.
    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        check_name(name)?;
        let mut bridge = link_named(name);
        bridge
            .attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(
            &format!("ip link add {name} type bridge"),
            RouteNetlinkMessage::NewLink(bridge),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Creates a veth pair `name` <-> `peer` (ip link add NAME type veth peer name PEER).
    pub fn create_veth(&mut self, name: &str, peer: &str) -> Result<()> {
        check_name(name)?;
        check_name(peer)?;
        // The peer is described by a whole link message nested inside ours.
        let mut veth = link_named(name);
        veth.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(link_named(peer)))),
        ]));
        self.request(
            &format!("ip link add {name} type veth peer name {peer}"),
            RouteNetlinkMessage::NewLink(veth),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Attaches interface `name` to bridge `bridge` (ip link set NAME master BRIDGE).
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let bridge_index = self.existing_link_index(bridge)?;
        let mut link = link_named(name);
        link.attributes.push(LinkAttribute::Controller(bridge_index));
        self.request(
            &format!("ip link set {name} master {bridge}"),
            RouteNetlinkMessage::SetLink(link),
            0,
        )
    }

    /// Moves interface `name` into the network namespace of process `pid` (ip link set NAME netns PID).
    pub fn move_to_netns_of(&mut self, name: &str, pid: i32) -> Result<()> {
        let Ok(pid_attribute) = u32::try_from(pid) else {
            bail!("cannot move {name} to the network namespace of pid {pid}: not a pid");
        };
        let mut link = link_named(name);
        link.attributes.push(LinkAttribute::NetNsPid(pid_attribute));
        self.request(
            &format!("ip link set {name} netns {pid}"),
            RouteNetlinkMessage::SetLink(link),
            0,
        )
    }

    /// Renames interface `name` to `new_name` (must be down; Linux 6.2 and later
    /// also rename an interface that is up).
    pub fn rename(&mut self, name: &str, new_name: &str) -> Result<()> {
        check_name(new_name)?;
        // IFLA_IFNAME now carries the *new* name, so the link is picked by index.
        let mut link = LinkMessage::default();
        link.header.index = self.existing_link_index(name)?;
        link.attributes.push(LinkAttribute::IfName(new_name.to_string()));
        self.request(
            &format!("ip link set {name} name {new_name}"),
            RouteNetlinkMessage::SetLink(link),
            0,
        )
    }

    /// Sets interface `name` up (ip link set NAME up).
    pub fn set_up(&mut self, name: &str) -> Result<()> {
        // `flags` says the new value, `change_mask` which flags to change.
        let mut link = link_named(name);
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.request(&format!("ip link set {name} up"), RouteNetlinkMessage::SetLink(link), 0)
    }

    /// Adds an IPv4 address (ip addr add ADDR/PREFIX dev NAME); an existing identical address is not an error.
    pub fn add_address(&mut self, name: &str, address: Ipv4Addr, prefix_len: u8) -> Result<()> {
        if prefix_len > 32 {
            bail!("cannot add {address}/{prefix_len}: an IPv4 prefix length is at most 32");
        }
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix_len;
        message.header.index = self.existing_link_index(name)?;
        // Like `ip addr add`: IFA_LOCAL is the interface's address, IFA_ADDRESS
        // the same on anything but a point-to-point link.
        message.attributes.push(AddressAttribute::Local(address.into()));
        message.attributes.push(AddressAttribute::Address(address.into()));
        let result = self.request(
            &format!("ip addr add {address}/{prefix_len} dev {name}"),
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        );
        ignore_errno(result, Errno::EEXIST, "the address is already there")
    }

    /// Adds a default route via `gateway` (ip route add default via GATEWAY).
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.destination_prefix_length = 0; // 0.0.0.0/0: "default"
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot; // what `ip route add` says
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(
            &format!("ip route add default via {gateway}"),
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Deletes interface `name` (ip link del NAME); deleting one end of a veth pair deletes both. Missing is not an error.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let result = self.request(
            &format!("ip link del {name}"),
            RouteNetlinkMessage::DelLink(link_named(name)),
            0,
        );
        ignore_errno(result, Errno::ENODEV, "there is no such interface: nothing to delete")
    }

    /// The names of every interface in this network namespace (ip link show).
    pub fn link_names(&mut self) -> Result<Vec<String>> {
        let replies = self.exchange(
            "ip link show",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => link.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(name) => Some(name),
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    /// The kernel's description of interface `name` (RTM_GETLINK), or None.
    fn get_link(&mut self, name: &str) -> Result<Option<LinkMessage>> {
        check_name(name)?;
        let replies = match self.exchange(
            &format!("ip link show {name}"),
            RouteNetlinkMessage::GetLink(link_named(name)),
            0,
        ) {
            Ok(replies) => replies,
            Err(error) if error.downcast_ref::<Errno>() == Some(&Errno::ENODEV) => return Ok(None),
            Err(error) => return Err(error),
        };
        for reply in replies {
            if let RouteNetlinkMessage::NewLink(link) = reply {
                return Ok(Some(link));
            }
        }
        bail!("the kernel answered `ip link show {name}` without a link")
    }

    /// The index of interface `name`, failing if there is none.
    fn existing_link_index(&mut self, name: &str) -> Result<u32> {
        match self.link_index(name)? {
            Some(index) => Ok(index),
            None => bail!("there is no network interface named {name:?} here (see `ip link`)"),
        }
    }

    /// Sends a request that expects no reply but the ack.
    fn request(&mut self, command: &str, message: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.exchange(command, message, flags).map(|_replies| ())
    }

    /// Sends one request and waits for the kernel's answer: its replies, then
    /// the ack. `command` is the equivalent `ip` command, for `-v` and errors.
    fn exchange(
        &mut self,
        command: &str,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        verbose::say(format_args!("netlink: {command}"));
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize(); // fills in the length and the message type
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket
            .send(&buffer, 0)
            .with_context(|| format!("sending `{command}` over netlink failed"))?;
        self.receive_answer(command)
    }

    /// Reads datagrams until the ack for our current request arrives.
    fn receive_answer(&mut self, command: &str) -> Result<Vec<RouteNetlinkMessage>> {
        let mut replies = Vec::new();
        loop {
            let (datagram, _kernel) = self
                .socket
                .recv_from_full()
                .with_context(|| format!("receiving the answer to `{command}` failed"))?;
            // One datagram can hold several netlink messages, one after the other.
            let mut rest = &datagram[..];
            while !rest.is_empty() {
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                    .with_context(|| format!("cannot parse the kernel's answer to `{command}`"))?;
                let length = (message.header.length as usize).next_multiple_of(4).max(16);
                rest = &rest[length.min(rest.len())..];
                if message.header.sequence_number != self.sequence {
                    continue; // a late answer to an earlier request
                }
                match message.payload {
                    NetlinkPayload::Error(ack) if ack.code.is_none() => return Ok(replies),
                    NetlinkPayload::Error(error) => return Err(kernel_error(command, &error)),
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(reply) => replies.push(reply),
                    _ => {}
                }
            }
        }
    }
}

/// A link message that names its interface (IFLA_IFNAME).
fn link_named(name: &str) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.attributes.push(LinkAttribute::IfName(name.to_string()));
    link
}

/// Catches names the kernel would refuse with a bare EINVAL or ERANGE.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.contains(['/', ' ', ':']) {
        bail!(
            "{name:?} is not a valid interface name: 1 to {MAX_NAME_LEN} bytes, \
             without '/', ':' or spaces"
        );
    }
    Ok(())
}

/// Turns a failure with errno `harmless` into success, saying so with `-v`.
fn ignore_errno(result: Result<()>, harmless: Errno, why: &str) -> Result<()> {
    match result {
        Err(error) if error.downcast_ref::<Errno>() == Some(&harmless) => {
            verbose::say(format_args!("  = {harmless:?}: {why}"));
            Ok(())
        }
        other => other,
    }
}

/// An error that names the command, a hint, and the kernel's own explanation
/// when it gave one, caused by the errno (callers can downcast it to [`Errno`];
/// `{:#}` shows it: "... failed: already exists: EEXIST: File exists").
fn kernel_error(command: &str, error: &ErrorMessage) -> anyhow::Error {
    let errno = Errno::from_raw(error.raw_code().abs());
    let mut message = format!("`{command}` failed");
    if let Some(hint) = hint(errno) {
        message.push_str(&format!(": {hint}"));
    }
    if let Some(text) = kernel_text(error) {
        message.push_str(&format!(" (kernel says: {text})"));
    }
    anyhow::Error::new(errno).context(message)
}

/// What usually causes `errno` in this module's requests.
fn hint(errno: Errno) -> Option<&'static str> {
    Some(match errno {
        Errno::EEXIST => "already exists",
        Errno::EPERM => "needs CAP_NET_ADMIN (run as root)",
        Errno::ENODEV => "no such interface (see `ip link`)",
        Errno::EBUSY => "the interface is up: set it down first (before Linux 6.2)",
        Errno::ESRCH => "no such process",
        Errno::EOPNOTSUPP => "this kernel lacks the link type (try `modprobe bridge` or `modprobe veth`)",
        Errno::ENETUNREACH => {
            "the gateway is in no subnet of an interface that is up: add an address in its subnet and set the link up first"
        }
        _ => return None,
    })
}

/// The kernel's error text from the extended ack, if any. With NETLINK_CAP_ACK,
/// an error carries our request's 16-byte header, then attributes.
fn kernel_text(error: &ErrorMessage) -> Option<String> {
    let attributes = error.header.get(16..)?;
    NlasIterator::new(attributes)
        .filter_map(|attribute| attribute.ok())
        .find(|attribute| attribute.kind() == NLMSGERR_ATTR_MSG)
        .map(|text| String::from_utf8_lossy(text.value()).trim_end_matches('\0').to_string())
}

#[cfg(test)]
mod tests {
    //! These tests change real network configuration, but only inside a fresh
    //! network namespace that belongs to one thread of the test binary and
    //! disappears with it. Network namespaces are per thread: unshare(2) in a
    //! thread leaves the rest of the process (and the host) alone. Needs root.

    use std::sync::mpsc;
    use std::thread;

    use nix::sched::{unshare, CloneFlags};
    use nix::unistd::gettid;

    use super::*;

    /// Runs `test` in a new thread inside a new, empty network namespace.
    fn in_new_netns<T: Send + 'static>(test: impl FnOnce() -> T + Send + 'static) -> T {
        let thread = thread::spawn(move || {
            unshare(CloneFlags::CLONE_NEWNET)
                .expect("unshare(CLONE_NEWNET) failed: these tests need root (CAP_SYS_ADMIN)");
            test()
        });
        thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// The kernel's IPv4 main routing table, as this thread's namespace sees it:
    /// (destination, gateway, mask, interface) per line of /proc/thread-self/net/route.
    fn routes() -> Vec<(Ipv4Addr, Ipv4Addr, Ipv4Addr, String)> {
        let table = std::fs::read_to_string("/proc/thread-self/net/route").unwrap();
        let hex = |field: &str| Ipv4Addr::from(u32::from_str_radix(field, 16).unwrap().to_le_bytes());
        table
            .lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (hex(fields[1]), hex(fields[2]), hex(fields[7]), fields[0].to_string())
            })
            .collect()
    }

    /// The interfaces this thread's namespace has, from /proc/thread-self/net/dev.
    fn proc_interfaces() -> Vec<String> {
        let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
        dev.lines()
            .skip(2)
            .map(|line| line.split(':').next().unwrap().trim().to_string())
            .collect()
    }

    fn errno_of(error: &anyhow::Error) -> Option<Errno> {
        error.downcast_ref::<Errno>().copied()
    }

    #[test]
    fn a_new_namespace_has_only_lo() {
        in_new_netns(|| {
            let mut netlink = Netlink::open().unwrap();
            assert_eq!(netlink.link_index("lo").unwrap(), Some(1));
            assert_eq!(netlink.link_index("eth0").unwrap(), None);
            assert_eq!(proc_interfaces(), ["lo"]);
        });
    }

    #[test]
    fn bridge_comes_up_with_its_address() {
        in_new_netns(|| {
            let mut netlink = Netlink::open().unwrap();
            netlink.create_bridge("br-test").unwrap();
            assert!(netlink.link_index("br-test").unwrap().is_some());
            assert!(proc_interfaces().contains(&"br-test".to_string()));

            let error = netlink.create_bridge("br-test").unwrap_err();
            assert_eq!(errno_of(&error), Some(Errno::EEXIST), "{error:#}");
            assert!(error.to_string().contains("already exists"), "{error:#}");

            netlink.set_up("br-test").unwrap();
            let address = Ipv4Addr::new(10, 99, 0, 1);
            netlink.add_address("br-test", address, 24).unwrap();
            netlink.add_address("br-test", address, 24).unwrap(); // same again: fine
                                                                  // An address on an up link brings its subnet's route with it.
            let subnet = (
                Ipv4Addr::new(10, 99, 0, 0),
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::new(255, 255, 255, 0),
                "br-test".to_string(),
            );
            assert!(routes().contains(&subnet), "{:?}", routes());
        });
    }

    #[test]
    fn veth_joins_the_bridge_and_goes_away_with_its_peer() {
        in_new_netns(|| {
            let mut netlink = Netlink::open().unwrap();
            netlink.create_bridge("br0").unwrap();
            netlink.create_veth("veth-host", "veth-ctr").unwrap();
            netlink.set_master("veth-host", "br0").unwrap();
            netlink.set_up("veth-host").unwrap();

            let bridge = netlink.link_index("br0").unwrap().unwrap();
            let host_end = netlink.get_link("veth-host").unwrap().unwrap();
            assert!(host_end.attributes.contains(&LinkAttribute::Controller(bridge)));
            assert!(host_end.header.flags.contains(LinkFlags::Up));

            netlink.delete_link("veth-ctr").unwrap();
            assert_eq!(netlink.link_index("veth-ctr").unwrap(), None);
            assert_eq!(netlink.link_index("veth-host").unwrap(), None);
            netlink.delete_link("veth-ctr").unwrap(); // missing: fine
            assert!(netlink.link_index("br0").unwrap().is_some());
        });
    }

    #[test]
    fn rename_keeps_the_index() {
        in_new_netns(|| {
            let mut netlink = Netlink::open().unwrap();
            netlink.create_veth("v0", "v1").unwrap();
            let index = netlink.link_index("v1").unwrap();
            netlink.rename("v1", "eth0").unwrap();
            assert_eq!(netlink.link_index("v1").unwrap(), None);
            assert_eq!(netlink.link_index("eth0").unwrap(), index);

            // Before Linux 6.2 the kernel renames only interfaces that are down.
            netlink.set_up("eth0").unwrap();
            match netlink.rename("eth0", "eth1") {
                Ok(()) => assert_eq!(netlink.link_index("eth1").unwrap(), index),
                Err(error) => {
                    assert_eq!(errno_of(&error), Some(Errno::EBUSY), "{error:#}");
                    assert!(error.to_string().contains("set it down first"), "{error:#}");
                }
            }
        });
    }

    /// The whole container setup: the "host" thread makes the pair and moves one
    /// end into the "container" thread's namespace, which configures it.
    #[test]
    fn veth_end_moves_into_another_namespace_and_gets_a_default_route() {
        in_new_netns(|| {
            let (tid_sender, tid_receiver) = mpsc::channel();
            let (moved_sender, moved_receiver) = mpsc::channel::<()>();
            let container = thread::spawn(move || {
                unshare(CloneFlags::CLONE_NEWNET).unwrap();
                tid_sender.send(gettid().as_raw()).unwrap();
                moved_receiver.recv().unwrap();
                let mut netlink = Netlink::open().unwrap();
                assert!(netlink.link_index("veth-ctr").unwrap().is_some());
                netlink.rename("veth-ctr", "eth0").unwrap();
                netlink.set_up("lo").unwrap();
                netlink.set_up("eth0").unwrap();

                let error = netlink.add_default_route(Ipv4Addr::new(10, 99, 1, 1)).unwrap_err();
                assert_eq!(errno_of(&error), Some(Errno::ENETUNREACH), "{error:#}");

                netlink.add_address("eth0", Ipv4Addr::new(10, 99, 1, 2), 24).unwrap();
                netlink.add_default_route(Ipv4Addr::new(10, 99, 1, 1)).unwrap();
                let default = (
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::new(10, 99, 1, 1),
                    Ipv4Addr::UNSPECIFIED,
                    "eth0".to_string(),
                );
                assert!(routes().contains(&default), "{:?}", routes());
                let mut names = proc_interfaces();
                names.sort();
                assert_eq!(names, ["eth0", "lo"]);
            });

            let mut netlink = Netlink::open().unwrap();
            netlink.create_veth("veth-host", "veth-ctr").unwrap();
            let container_tid = tid_receiver.recv().unwrap();
            netlink.move_to_netns_of("veth-ctr", container_tid).unwrap();
            assert_eq!(netlink.link_index("veth-ctr").unwrap(), None);
            assert!(netlink.link_index("veth-host").unwrap().is_some());
            moved_sender.send(()).unwrap();
            container
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        });
    }

    #[test]
    fn errors_name_the_command_and_the_errno() {
        in_new_netns(|| {
            let mut netlink = Netlink::open().unwrap();
            let error = netlink.set_up("nosuch0").unwrap_err();
            assert_eq!(errno_of(&error), Some(Errno::ENODEV), "{error:#}");
            assert!(error.to_string().contains("ip link set nosuch0 up"), "{error:#}");

            netlink.create_veth("v0", "v1").unwrap();
            let error = netlink.move_to_netns_of("v0", i32::MAX).unwrap_err();
            assert_eq!(errno_of(&error), Some(Errno::ESRCH), "{error:#}");

            let error = netlink.create_bridge("a-name-that-is-too-long").unwrap_err();
            assert!(error.to_string().contains("not a valid interface name"), "{error:#}");

            let error = netlink
                .add_address("nosuch0", Ipv4Addr::new(10, 99, 2, 1), 24)
                .unwrap_err();
            assert!(error.to_string().contains("no network interface named"), "{error:#}");
        });
    }

    #[test]
    fn kernel_text_is_read_from_the_extended_ack() {
        // An error for a 16-byte request header, then NLMSGERR_ATTR_MSG "oops".
        let mut header = vec![0u8; 16];
        header.extend_from_slice(&[9, 0, 1, 0, b'o', b'o', b'p', b's', 0, 0, 0, 0]);
        let mut error = ErrorMessage::default();
        error.code = std::num::NonZeroI32::new(-(Errno::EINVAL as i32));
        error.header = header;
        assert_eq!(kernel_text(&error).as_deref(), Some("oops"));
        let message = format!("{:#}", kernel_error("ip link add x type bridge", &error));
        assert!(
            message.contains("EINVAL") && message.contains("kernel says: oops"),
            "{message}"
        );
    }
}
