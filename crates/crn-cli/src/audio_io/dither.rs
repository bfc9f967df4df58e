//! Float samples to integers of a file's depth.

/// Float to integer of `bits`: rounded and clipped, with TPDF dither at 16 bits.
///
/// Re-quantising to 16 bits without dither turns quiet passages (a denoised noise floor, a
/// fade) into distortion correlated with the signal; triangular dither of +-1 LSB makes the
/// error a constant, signal-independent hiss instead. 24 bits needs none (its error is below
/// any converter's noise).
pub struct Quantiser {
    bits: u32,
    /// xorshift state; a fixed seed so a file encodes the same way every time (and 16-bit WAV
    /// and FLAC of the same audio hold the same samples).
    rng: u64,
}

impl Quantiser {
    pub fn new(bits: u32) -> Self {
        Self { bits, rng: 0x9e37_79b9_7f4a_7c15 }
    }

    fn uniform(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn quantise(&mut self, x: f32) -> i32 {
        let scale = (1i64 << (self.bits - 1)) as f64;
        let max = ((1i64 << (self.bits - 1)) - 1) as f64;
        let dither = if self.bits <= 16 { self.uniform() - self.uniform() } else { 0.0 };
        let v = (x as f64 * scale + dither).round();
        if v.is_nan() {
            0
        } else {
            v.clamp(-max - 1.0, max) as i32
        }
    }
}
