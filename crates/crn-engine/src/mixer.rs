//! The output of every sample: the latency-aligned dry signal, the mix with the wet
//! (resynthesised) signal, the choice of denoised or removed noise, the output gain, bypass.

use crate::controls::SampleRamps;
use crate::meter::Levels;
use crate::stft::Buffers;

/// Input beyond this magnitude is treated as broken rather than as audio.
const MAX_INPUT: f32 = 1.0e4;

/// Sanitises one input sample: non-finite values become silence, absurd ones are clamped.
/// The CLI uses it too, so its removed-noise stem matches the engine's exactly.
#[inline]
pub fn sanitise(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-MAX_INPUT, MAX_INPUT)
    } else {
        0.0
    }
}

pub(crate) struct Mixer {
    /// Per channel: the dry input delayed by the latency, a ring of `delay` samples.
    dry: Vec<Vec<f32>>,
    pos: usize,
    delay: usize,
    /// One hop of each per-sample control, shared by every channel.
    mix: Vec<f32>,
    gain: Vec<f32>,
    removed: Vec<f32>,
    bypass: Vec<f32>,
}

impl Mixer {
    /// `max_delay`: the longest latency any mode gives (the ring never reallocates).
    pub fn new(channels: usize, hop: usize, delay: usize, max_delay: usize) -> Self {
        Self {
            dry: vec![vec![0.0; max_delay]; channels],
            pos: 0,
            delay,
            mix: vec![0.0; hop],
            gain: vec![0.0; hop],
            removed: vec![0.0; hop],
            bypass: vec![0.0; hop],
        }
    }

    /// A new latency: the dry path is delayed as much (clears it, as a reset does).
    pub fn set_delay(&mut self, delay: usize) {
        self.delay = delay;
        self.reset();
    }

    pub fn reset(&mut self) {
        for d in &mut self.dry {
            d.fill(0.0);
        }
        self.pos = 0;
    }

    /// Writes `seg` samples of output at `at` in `buffers` (over their input), from the wet
    /// signal at `wet_pos` of the hop in `stft`'s output, within one hop.
    #[allow(clippy::too_many_arguments)]
    pub fn mix(&mut self, buffers: &mut [&mut [f32]], at: usize, seg: usize, stft: &Buffers, wet_pos: usize, k: &mut SampleRamps, levels: &mut Levels) {
        for i in 0..seg {
            self.mix[i] = k.mix.next();
            self.gain[i] = k.gain.next();
            self.removed[i] = k.removed.next();
            self.bypass[i] = k.bypass.next();
        }
        let (start, delay) = (self.pos, self.delay);
        let mut pos = start;
        for (ch, (dry, buf)) in self.dry.iter_mut().zip(buffers.iter_mut()).enumerate() {
            pos = start;
            let wet = stft.output(ch, wet_pos, seg);
            for (i, (s, &wet)) in buf[at..at + seg].iter_mut().zip(wet).enumerate() {
                let x = sanitise(*s);
                let d = dry[pos];
                dry[pos] = x;
                pos = if pos + 1 >= delay { 0 } else { pos + 1 };
                let m = self.mix[i];
                let denoised = m * wet + (1.0 - m) * d;
                let r = self.removed[i];
                // Removed noise before the gain: taken after it, a gain above 0 dB would put
                // speech into it (input minus more than the denoised signal).
                let heard = if r == 0.0 {
                    denoised
                } else if r == 1.0 {
                    d - denoised
                } else {
                    (1.0 - r) * denoised + r * (d - denoised)
                };
                let y = heard * self.gain[i];
                let b = self.bypass[i];
                let y = if b == 0.0 { y } else { b * d + (1.0 - b) * y };
                let y = if y.is_finite() { y } else { 0.0 };
                levels.add_output(y);
                *s = y;
            }
        }
        self.pos = pos;
    }
}
