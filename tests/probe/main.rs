//! The probe: a small static program the grader copies into every test rootfs as
//! /bin/probe. It reports, in stable text, what a process inside the container
//! sees. It is built by the grader's build script with rustc alone (no crates),
//! statically linked, so it runs in a rootfs that has no C library.
//!
//! Usage: probe COMMAND [ARG...]
//!   ls DIR          entries of DIR, sorted, one per line
//!   cwd             the current directory
//!   pid             this process's PID and parent PID
//!   pids            the PIDs in /proc, sorted
//!   env             the environment, sorted
//!   escape PATH     try the classic chroot escape, then report whether PATH is visible
//!   orphan          leave an orphan behind, report whether it stayed a zombie or was reaped
//!   signals         print "ready", wait for SIGINT/SIGTERM/SIGHUP, report which came
//!   mounts          mount points in /proc/self/mountinfo
//!   hostname        the hostname
//!   ids             uid and gid
//!   write PATH      try to create PATH and write to it; report ok or the error
//!   cat PATH        the contents of PATH (or the error)
//!   mknod PATH      try to make a character device node (1:3, like /dev/null) at PATH
//!   cgroup          /proc/self/cgroup and the limit files under /sys/fs/cgroup
//!   alloc MB        allocate MB MiB and touch every page, then say so
//!   forkbomb MAX    fork sleeping children until fork fails (at most MAX), say how many
//!   burn SECS N     keep N threads busy for SECS seconds of wall time, report CPU time
//!   net             each interface (sorted): name, up or down, IPv4 addresses
//!   tcp-serve PORT  listen on PORT, say so, print the first line one client sends
//!   tcp-send A:P M  connect to address A, port P, send M; report ok or the error
//!   ipc             the keys of the System V shared memory segments and message queues
//!   ipc-make KEY    make a shared memory segment and a message queue with KEY

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

#[repr(C)]
struct SigSet([u64; 16]);

/// struct ifaddrs (getifaddrs(3)), the fields the probe reads.
#[repr(C)]
struct IfAddrs {
    next: *mut IfAddrs,
    name: *const std::ffi::c_char,
    flags: u32,
    addr: *const SockAddrIn,
    netmask: *const SockAddrIn,
}

/// struct sockaddr_in: family, port, then the IPv4 address in network order.
#[repr(C)]
struct SockAddrIn {
    family: u16,
    port: u16,
    addr: [u8; 4],
}

extern "C" {
    fn fork() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn _exit(code: i32) -> !;
    fn sigemptyset(set: *mut SigSet) -> i32;
    fn sigaddset(set: *mut SigSet, signal: i32) -> i32;
    fn sigprocmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
    fn sigwait(set: *const SigSet, signal: *mut i32) -> i32;
    fn getuid() -> u32;
    fn getgid() -> u32;
    fn kill(pid: i32, signal: i32) -> i32;
    fn getifaddrs(list: *mut *mut IfAddrs) -> i32;
    fn freeifaddrs(list: *mut IfAddrs);
    fn mknod(path: *const std::ffi::c_char, mode: u32, dev: u64) -> i32;
    fn shmget(key: i32, size: usize, flags: i32) -> i32;
    fn msgget(key: i32, flags: i32) -> i32;
}

const IPC_CREAT: i32 = 0o1000;

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
const SIG_BLOCK: i32 = 0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match args.first().map(String::as_str) {
        Some("ls") => ls(&arg(1)),
        Some("cwd") => println!("cwd: {}", std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|e| format!("error: {e}"))),
        Some("pid") => println!("pid: {}\nppid: {}", std::process::id(), std::os::unix::process::parent_id()),
        Some("pids") => println!("pids: {}", pids().iter().map(u32::to_string).collect::<Vec<_>>().join(" ")),
        Some("env") => {
            let mut vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            vars.sort();
            vars.iter().for_each(|v| println!("{v}"));
        }
        Some("escape") => escape(&arg(1)),
        Some("orphan") => orphan(),
        Some("signals") => signals(),
        Some("mounts") => mounts(),
        Some("hostname") => println!("hostname: {}", read("/proc/sys/kernel/hostname").trim()),
        Some("ids") => println!("uid: {}\ngid: {}", unsafe { getuid() }, unsafe { getgid() }),
        Some("write") => {
            let path = arg(1);
            match std::fs::write(&path, "written by the probe\n") {
                Ok(()) => println!("write {path}: ok"),
                Err(e) => println!("write {path}: {}", errno_name(&e)),
            }
        }
        Some("mknod") => {
            let path = std::ffi::CString::new(arg(1)).unwrap();
            const S_IFCHR: u32 = 0o020000;
            // makedev(1, 3) for glibc: major in bits 8..19, minor in bits 0..7.
            if unsafe { mknod(path.as_ptr(), S_IFCHR | 0o666, (1 << 8) | 3) } == 0 {
                println!("mknod {}: ok", arg(1));
            } else {
                println!("mknod {}: {}", arg(1), errno_name(&std::io::Error::last_os_error()));
            }
        }
        Some("cgroup") => cgroup(),
        Some("alloc") => alloc(arg(1).parse().unwrap_or_else(|_| usage())),
        Some("forkbomb") => forkbomb(arg(1).parse().unwrap_or_else(|_| usage())),
        Some("burn") => burn(arg(1).parse().unwrap_or_else(|_| usage()), arg(2).parse().unwrap_or_else(|_| usage())),
        Some("net") => net(),
        Some("tcp-serve") => tcp_serve(arg(1).parse().unwrap_or_else(|_| usage())),
        Some("tcp-send") => tcp_send(&arg(1), &arg(2)),
        Some("ipc") => {
            println!("shm keys: {}", ipc_keys("/proc/sysvipc/shm"));
            println!("msg keys: {}", ipc_keys("/proc/sysvipc/msg"));
        }
        Some("ipc-make") => {
            let key: i32 = arg(1).parse().unwrap_or_else(|_| usage());
            let shm = unsafe { shmget(key, 4096, IPC_CREAT | 0o600) };
            let msg = unsafe { msgget(key, IPC_CREAT | 0o600) };
            if shm < 0 || msg < 0 {
                println!("ipc-make {key}: {}", std::io::Error::last_os_error());
            } else {
                println!("ipc-make {key}: ok");
            }
        }
        Some("cat") => match std::fs::read_to_string(arg(1)) {
            Ok(text) => print!("{text}"),
            Err(e) => println!("cat {}: {}", arg(1), errno_name(&e)),
        },
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: probe ls DIR | cwd | pid | pids | env | escape PATH | orphan | signals | mounts | hostname | ids \
         | write PATH | cat PATH | mknod PATH | cgroup | alloc MB | forkbomb MAX | burn SECS N | net | tcp-serve PORT | tcp-send ADDR:PORT MSG | ipc | ipc-make KEY"
    );
    std::process::exit(2)
}

/// The keys (first column) of a /proc/sysvipc table, sorted.
fn ipc_keys(table: &str) -> String {
    let mut keys: Vec<i64> =
        read(table).lines().skip(1).filter_map(|line| line.split_whitespace().next()?.parse().ok()).collect();
    keys.sort();
    keys.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
}

/// The errno of an I/O error by its C name: stable text for snapshots.
fn errno_name(error: &std::io::Error) -> String {
    let name = match error.raw_os_error() {
        Some(1) => "EPERM",
        Some(2) => "ENOENT",
        Some(11) => "EAGAIN",
        Some(13) => "EACCES",
        Some(17) => "EEXIST",
        Some(21) => "EISDIR",
        Some(28) => "ENOSPC",
        Some(30) => "EROFS",
        Some(101) => "ENETUNREACH",
        Some(110) => "ETIMEDOUT",
        Some(111) => "ECONNREFUSED",
        Some(113) => "EHOSTUNREACH",
        Some(n) => return format!("errno {n}"),
        None => return error.to_string(),
    };
    name.to_string()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("error reading {path}: {e}"))
}

fn ls(dir: &str) {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(e) => {
            println!("error: {dir}: {e}");
            std::process::exit(1)
        }
    };
    names.sort();
    names.iter().for_each(|n| println!("{n}"));
}

fn pids() -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    pids.sort();
    pids
}

/// The classic escape: chroot into a subdirectory while the current directory
/// stays outside it, walk up with "..", then chroot to where we ended up.
fn escape(host_path: &str) {
    let step = |what: &str, result: std::io::Result<()>| {
        if let Err(e) = result {
            println!("escape: stayed inside ({what} failed: {e})");
            std::process::exit(0);
        }
    };
    let dir = "/.probe-escape";
    let _ = std::fs::create_dir(dir);
    step("chdir /", std::env::set_current_dir("/"));
    step("chroot into a subdirectory", std::os::unix::fs::chroot(dir));
    // The current directory is still the old root, outside the new one.
    let _ = std::fs::remove_dir(".probe-escape");
    for _ in 0..64 {
        step("chdir ..", std::env::set_current_dir(".."));
    }
    step("chroot .", std::os::unix::fs::chroot("."));
    if Path::new(host_path).exists() {
        println!("escape: reached the host ({host_path} is visible)");
    } else {
        println!("escape: stayed inside ({host_path} is not visible)");
    }
}

/// Forks a child that forks a grandchild and exits at once: the grandchild is an
/// orphan, reparented to PID 1 of our PID namespace. It exits after 100 ms; then
/// it is either reaped by that PID 1 or stays a zombie.
fn orphan() {
    let (reader, mut writer) = pipe();
    let child = unsafe { fork() };
    if child == 0 {
        let grandchild = unsafe { fork() };
        if grandchild == 0 {
            std::thread::sleep(Duration::from_millis(100));
            unsafe { _exit(0) }
        }
        let _ = writeln!(writer, "{grandchild}");
        unsafe { _exit(0) }
    }
    drop(writer);
    unsafe { waitpid(child, std::ptr::null_mut(), 0) };
    let orphan: i32 = std::io::read_to_string(reader).unwrap().trim().parse().unwrap();
    let stat = format!("/proc/{orphan}/stat");
    let started = Instant::now();
    let mut zombie_since: Option<Instant> = None;
    while started.elapsed() < Duration::from_secs(5) {
        match std::fs::read_to_string(&stat) {
            Err(_) => {
                println!("orphan: reaped");
                return;
            }
            Ok(text) if text.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z') => {
                let since = *zombie_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(500) {
                    println!("orphan: zombie");
                    return;
                }
            }
            Ok(_) => zombie_since = None,
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("orphan: still running after 5s");
}

fn pipe() -> (std::fs::File, std::fs::File) {
    extern "C" {
        fn pipe(fds: *mut i32) -> i32;
    }
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
    unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) }
}

/// Blocks SIGINT, SIGTERM and SIGHUP, says "ready", and reports the first that
/// arrives. A blocked signal is queued even for a PID 1 without handlers.
fn signals() {
    let mut set = SigSet([0; 16]);
    let mut signal = 0;
    unsafe {
        sigemptyset(&mut set);
        for s in [SIGHUP, SIGINT, SIGTERM] {
            sigaddset(&mut set, s);
        }
        sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut());
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    unsafe { sigwait(&set, &mut signal) };
    let name = match signal {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "another signal",
    };
    println!("received {name}");
}

fn mounts() {
    for line in read("/proc/self/mountinfo").lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let fstype = fields.iter().position(|f| *f == "-").and_then(|i| fields.get(i + 1)).unwrap_or(&"?");
        println!("{} {}", fields.get(4).unwrap_or(&"?"), fstype);
    }
}

/// /proc/self/cgroup, then every limit file found under /sys/fs/cgroup (v2 at the
/// top or in unified/, v1 per controller), as "path: value".
fn cgroup() {
    let mut lines: Vec<String> = read("/proc/self/cgroup").lines().map(str::to_string).collect();
    lines.sort();
    lines.iter().for_each(|l| println!("{l}"));
    let v2 = ["memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max", "cpuset.cpus"];
    let v1 = [
        "memory/memory.limit_in_bytes",
        "cpu/cpu.cfs_period_us",
        "cpu/cpu.cfs_quota_us",
        "cpu/cpu.shares",
        "pids/pids.max",
        "cpuset/cpuset.cpus",
    ];
    let candidates = v2
        .iter()
        .map(|f| format!("/sys/fs/cgroup/{f}"))
        .chain(v2.iter().map(|f| format!("/sys/fs/cgroup/unified/{f}")))
        .chain(v1.iter().map(|f| format!("/sys/fs/cgroup/{f}")));
    for path in candidates {
        if let Ok(value) = std::fs::read_to_string(&path) {
            println!("{path}: {}", value.trim());
        }
    }
}

/// Allocates `megabytes` MiB, writing to every page so the memory is really used.
fn alloc(megabytes: usize) {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..megabytes {
        let mut block = vec![0u8; 1 << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        blocks.push(block);
    }
    println!("allocated {megabytes} MiB");
}

/// Forks children that sleep, until fork fails or `max` is reached; reports the
/// count and the error, then kills and reaps the children.
fn forkbomb(max: usize) {
    let mut children = Vec::new();
    let mut failure = "none".to_string();
    while children.len() < max {
        let pid = unsafe { fork() };
        if pid == 0 {
            std::thread::sleep(Duration::from_secs(30));
            unsafe { _exit(0) }
        }
        if pid < 0 {
            failure = errno_name(&std::io::Error::last_os_error());
            break;
        }
        children.push(pid);
    }
    println!("forked {} children, then: {failure}", children.len());
    for pid in children {
        unsafe {
            kill(pid, 9);
            waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}

/// Keeps `threads` threads spinning for `seconds` of wall time; reports wall and CPU
/// time (user + system, from /proc/self/stat, in clock ticks of 1/100 s).
fn burn(seconds: f64, threads: usize) {
    let start = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let mut x: u64 = 0;
                while start.elapsed() < limit {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let wall = start.elapsed().as_secs_f64();
    let stat = read("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    // After the command name: field 3 is the state, so utime and stime (fields 14
    // and 15 of the whole line) are at 11 and 12 here.
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    println!("wall: {wall:.2} s, cpu: {:.2} s", ticks as f64 / 100.0);
}

/// Every interface, sorted, with its state and IPv4 addresses ("eth0 up 10.88.0.2/24").
fn net() {
    let mut interfaces: std::collections::BTreeMap<String, (bool, Vec<String>)> = Default::default();
    let mut list: *mut IfAddrs = std::ptr::null_mut();
    if unsafe { getifaddrs(&mut list) } != 0 {
        println!("getifaddrs: {}", std::io::Error::last_os_error());
        return;
    }
    let mut entry = list;
    while !entry.is_null() {
        let ifa = unsafe { &*entry };
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.name) }.to_string_lossy().into_owned();
        let up = ifa.flags & 1 != 0; // IFF_UP
        let slot = interfaces.entry(name).or_insert((up, Vec::new()));
        if !ifa.addr.is_null() && unsafe { (*ifa.addr).family } == 2 {
            let address = std::net::Ipv4Addr::from(unsafe { (*ifa.addr).addr });
            let prefix = if ifa.netmask.is_null() { 32 } else { u32::from_be_bytes(unsafe { (*ifa.netmask).addr }).count_ones() };
            slot.1.push(format!("{address}/{prefix}"));
        }
        entry = ifa.next;
    }
    unsafe { freeifaddrs(list) };
    for (name, (up, addresses)) in interfaces {
        let line = format!("{name} {} {}", if up { "up" } else { "down" }, addresses.join(" "));
        println!("{}", line.trim_end());
    }
}

/// Listens on PORT, prints "listening on PORT", then the first line a client sends.
fn tcp_serve(port: u16) {
    let listener = match std::net::TcpListener::bind(("0.0.0.0", port)) {
        Ok(listener) => listener,
        Err(e) => return println!("tcp-serve {port}: {}", errno_name(&e)),
    };
    println!("listening on {port}");
    let _ = std::io::stdout().flush();
    if let Ok((stream, peer)) = listener.accept() {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line);
        println!("received {:?} from {}", line.trim_end(), peer.ip());
    }
}

/// Connects to ADDRESS:PORT (within 3 s) and sends MESSAGE and a newline.
fn tcp_send(target: &str, message: &str) {
    let address: std::net::SocketAddr = target.parse().unwrap_or_else(|_| usage());
    match std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3)) {
        Ok(mut stream) => {
            let _ = writeln!(stream, "{message}");
            println!("tcp-send {target}: ok");
        }
        Err(e) => println!("tcp-send {target}: {}", errno_name(&e)),
    }
}
