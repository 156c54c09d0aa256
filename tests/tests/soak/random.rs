//! Random delays that can be replayed: xorshift64* seeded from the clock, or from
//! WORKSHOP_SOAK_SEED to run a failing sequence again.

pub struct Random(u64);

impl Random {
    /// A generator for `what`; prints its seed.
    pub fn new(what: &str) -> Random {
        let seed = std::env::var("WORKSHOP_SOAK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{what}: random seed {seed} (rerun the same delays with WORKSHOP_SOAK_SEED={seed})");
        Random(seed | 1)
    }

    /// The next number (xorshift64*).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in 0..limit.
    pub fn below(&mut self, limit: u64) -> u64 {
        self.next() % limit.max(1)
    }

    /// `len` bytes no compressor can shrink: a layer of that size is that big.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(len + 8);
        while bytes.len() < len {
            bytes.extend_from_slice(&self.next().to_le_bytes());
        }
        bytes.truncate(len);
        bytes
    }
}
