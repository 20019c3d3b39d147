//! Deterministic test data for the examples, benchmarks and tests: the same values on every
//! machine, with no random-number crate.

/// `len` values `offset + scale * u`, each `u` in [-1, 1) from a xorshift64 stream seeded by
/// `seed` (distinct seeds give unrelated streams).
///
/// ```
/// let x = normkern_reference::signal(1000, 2.0, 10.0, 7);
/// assert!(x.iter().all(|&v| (8.0..12.0).contains(&v)));
/// assert_eq!(x, normkern_reference::signal(1000, 2.0, 10.0, 7));
/// ```
pub fn signal(len: usize, scale: f32, offset: f32, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // The top 24 bits as a multiple of 2^-23 in [0, 2): exact in f32.
            let u = (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            offset + scale * u
        })
        .collect()
}
