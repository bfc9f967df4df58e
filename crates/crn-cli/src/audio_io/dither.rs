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
    /// +1, or -1 for [`Dither::Negated`].
    sign: f64,
    /// Samples beyond the integer range, clipped to it.
    clipped: u64,
}

/// Which TPDF sequence a file gets.
///
/// The removed-noise stem takes the denoised stem's sequence negated. Each stem alone is dithered
/// exactly as well as with a sequence of its own (a negated triangular sequence is triangular, and
/// as independent of the signal), but when the stems are summed their dither cancels: the sum is
/// the gained input within the two roundings, one LSB at most (independent sequences would add
/// two dithers' worth of noise, and one shared sequence would double it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dither {
    #[default]
    Plain,
    Negated,
}

impl Quantiser {
    pub fn new(bits: u32, dither: Dither) -> Self {
        let sign = if dither == Dither::Negated { -1.0 } else { 1.0 };
        Self { bits, rng: 0x9e37_79b9_7f4a_7c15, sign, clipped: 0 }
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
        let dither = if self.bits <= 16 { self.sign * (self.uniform() - self.uniform()) } else { 0.0 };
        let v = (x as f64 * scale + dither).round();
        if v.is_nan() {
            0
        } else {
            if v > max || v < -max - 1.0 {
                self.clipped += 1;
            }
            v.clamp(-max - 1.0, max) as i32
        }
    }

    /// How many samples were clipped so far.
    pub fn clipped(&self) -> u64 {
        self.clipped
    }
}
