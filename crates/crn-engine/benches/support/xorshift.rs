//! The deterministic noise the benchmarks and examples build their test signals from
//! (xorshift64; shared by `#[path]` so every target draws the same sequence).
#![allow(dead_code)] // each target uses part of it

pub struct XorShift(u64);

impl XorShift {
    /// A generator from a raw, nonzero state.
    pub fn new(state: u64) -> Self {
        Self(state | 1)
    }

    /// A generator for a small seed (0, 1, 2, ...), spread over the state.
    pub fn seeded(seed: u64) -> Self {
        Self::new(seed.wrapping_mul(6364136223846793005))
    }

    /// Uniform in [-0.5, 0.5).
    pub fn centred(&mut self) -> f32 {
        let s = &mut self.0;
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        (*s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}
