//! The workshop's grader: the checks for every chapter, shared by the student crate
//! (`cargo test -p ch01-chroot`) and the reference solution (`cargo test`).
//!
//! Each chapter crate has a thin `tests/grade.rs` that calls these checks with its
//! own binary. A check runs that binary as a user would, on a throwaway rootfs
//! ([`Sandbox`]) holding busybox and the static probe (probe/main.rs), and looks at
//! what the container printed and what the host sees. Snapshots live in
//! src/snapshots and are the same for both crates.

pub mod ch01;
pub mod ch02;
pub mod ch03;
pub mod ch04;
pub mod ch05;
pub mod ch06;
pub mod ch07;
pub mod ch08;
pub mod ch09;
pub mod ch10;
mod netns;
pub mod oci;
pub mod registry;
mod sandbox;
pub mod terminal;
pub mod token_issuer;

pub use netns::NetNs;
pub use sandbox::{Output, Running, Sandbox};

/// The static probe program, built by build.rs.
pub const PROBE: &str = env!("WORKSHOP_PROBE");
