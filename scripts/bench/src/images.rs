//! The benchmark's two images, built with the grader's OCI builder and pushed with
//! skopeo to the benchmark's own registry:
//!
//! - `workshop-bench/busybox`: one layer, the workshop's busybox rootfs. The
//!   container start benchmarks run /bin/true from it.
//! - `workshop-bench/big`: three layers of about 21 MB together (busybox plus 6 MB,
//!   then 7 MB, then 7 MB of pseudo-random bytes, which gzip cannot shrink), for
//!   the pull benchmarks.

use std::path::Path;

use workshop_grader::oci::{self, Entry, ImageSpec, Layer};
use workshop_grader::registry::Registry;

pub const BUSYBOX: &str = "workshop-bench/busybox:latest";
pub const BIG: &str = "workshop-bench/big:latest";
const MB: usize = 1_000_000;

/// Sizes of the big image's random files, one per layer.
const BIG_RANDOM_BYTES: [usize; 3] = [6 * MB, 7 * MB, 7 * MB];

/// What was pushed: the compressed size of each layer of the big image.
pub struct Pushed {
    pub big_layer_sizes: Vec<u64>,
}

/// Builds both images in the OCI layout `layout` and pushes them to `registry`.
pub fn build_and_push(rootfs: &Path, layout: &Path, registry: &Registry) -> Pushed {
    let busybox = oci::entries_from_dir(rootfs);
    let base = oci::layer(&busybox);
    oci::write_layout(layout, "busybox", &[ImageSpec::new(vec![base])], false);
    oci::push(layout, "busybox", registry, BUSYBOX);

    let mut layers: Vec<Layer> = Vec::new();
    for (n, bytes) in BIG_RANDOM_BYTES.iter().enumerate() {
        let mut entries = if n == 0 { busybox.clone() } else { Vec::new() };
        entries.push(Entry::dir("opt", 0o755));
        entries.push(Entry::dir("opt/bench", 0o755));
        entries.push(Entry::file(
            &format!("opt/bench/random-{n}"),
            0o644,
            random_bytes(*bytes, n as u64 + 1),
        ));
        layers.push(oci::layer(&entries));
    }
    let big_layer_sizes = layers.iter().map(|l| l.size).collect();
    oci::write_layout(layout, "big", &[ImageSpec::new(layers)], false);
    oci::push(layout, "big", registry, BIG);
    Pushed { big_layer_sizes }
}

/// `len` bytes from xorshift64* seeded with `seed`: reproducible, and
/// incompressible enough that gzip keeps them at their size.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_bytes_have_no_structure_to_compress() {
        let data = super::random_bytes(100_000, 1);
        assert_eq!(data.len(), 100_000);
        // Every byte value shows up about equally often (about 390 times each).
        let mut counts = [0usize; 256];
        data.iter().for_each(|b| counts[*b as usize] += 1);
        assert!(counts.iter().all(|c| (250..550).contains(c)), "{counts:?}");
        assert_ne!(super::random_bytes(64, 1), super::random_bytes(64, 2));
    }
}
