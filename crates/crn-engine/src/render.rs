//! Offline rendering through the engine: what the CLI does to a file and what a host's bounce
//! does, with the latency trimmed and the tail flushed so the output lines up with the input
//! sample for sample. [`Streamer`] does it a piece at a time (a file of any length in bounded
//! memory); [`render`] is the same over a whole signal in memory.

use crate::denormals::DenormalGuard;
use crate::engine::{db_to_gain, sanitise, Engine, Output, Settings};

/// Feeds input of any chunking through the engine in host blocks of a fixed size and hands
/// back the output aligned with the input: the engine's latency is dropped from the front and
/// flushed from the back by [`Streamer::finish`], so exactly as many samples come out as went in.
///
/// With `keep_input`, each piece of output comes with the input samples it lines up with, so a
/// caller can form the removed-noise stem ([`removed_into`]) in the same pass.
pub struct Streamer {
    block: usize,
    latency: usize,
    /// Output samples still to drop: the first `latency` precede the input.
    skip: usize,
    /// The host block being filled, one buffer per channel.
    buf: Vec<Vec<f32>>,
    fill: usize,
    /// Input not yet matched with output (at most latency + block samples), when kept.
    pending_input: Option<Vec<Vec<f32>>>,
    flushed: bool,
}

/// One piece of aligned output: `output[ch]` and, when the streamer keeps it, the input
/// `input[ch]` of the same samples (equal lengths).
pub struct Piece<'a> {
    pub output: &'a [&'a [f32]],
    pub input: Option<&'a [&'a [f32]]>,
}

impl Streamer {
    /// For an engine in [`crate::engine::Mode::Offline`], freshly reset, with `channels` channels.
    pub fn new(engine: &Engine, channels: usize, block: usize, keep_input: bool) -> Self {
        let block = block.max(1);
        let latency = engine.latency();
        Self {
            block,
            latency,
            skip: latency,
            buf: vec![vec![0.0; block]; channels],
            fill: 0,
            pending_input: keep_input.then(|| vec![Vec::with_capacity(latency + block); channels]),
            flushed: false,
        }
    }

    /// Takes `input` (one slice per channel, equal lengths) and passes every finished piece of
    /// output to `sink`; stops at the first error `sink` returns.
    pub fn push<E>(
        &mut self,
        engine: &mut Engine,
        input: &[&[f32]],
        sink: &mut dyn FnMut(Piece) -> Result<(), E>,
    ) -> Result<(), E> {
        let len = input.first().map_or(0, |c| c.len());
        let mut pos = 0;
        while pos < len {
            let n = (self.block - self.fill).min(len - pos);
            for (b, x) in self.buf.iter_mut().zip(input) {
                b[self.fill..self.fill + n].copy_from_slice(&x[pos..pos + n]);
            }
            if let Some(p) = &mut self.pending_input {
                for (p, x) in p.iter_mut().zip(input) {
                    p.extend_from_slice(&x[pos..pos + n]);
                }
            }
            self.fill += n;
            pos += n;
            if self.fill == self.block {
                self.run_block(engine, sink)?;
            }
        }
        Ok(())
    }

    /// Flushes the engine's delay (silence in, the input's last samples out) and the partly
    /// filled block. Call once, after the last [`Streamer::push`].
    pub fn finish<E>(&mut self, engine: &mut Engine, sink: &mut dyn FnMut(Piece) -> Result<(), E>) -> Result<(), E> {
        if self.flushed {
            return Ok(());
        }
        self.flushed = true;
        let mut tail = self.latency;
        while tail > 0 {
            let n = (self.block - self.fill).min(tail);
            for b in &mut self.buf {
                b[self.fill..self.fill + n].fill(0.0);
            }
            self.fill += n;
            tail -= n;
            if self.fill == self.block {
                self.run_block(engine, sink)?;
            }
        }
        if self.fill > 0 {
            self.run_block(engine, sink)?;
        }
        Ok(())
    }

    fn run_block<E>(&mut self, engine: &mut Engine, sink: &mut dyn FnMut(Piece) -> Result<(), E>) -> Result<(), E> {
        let n = self.fill;
        self.fill = 0;
        {
            // As the plugin does around each `process`: the same arithmetic, and no denormal
            // slow-down on decaying tails; the caller's flags come back after.
            let _denormals = DenormalGuard::new();
            let mut slices: Vec<&mut [f32]> = self.buf.iter_mut().map(|b| &mut b[..n]).collect();
            engine.process(&mut slices);
        }
        let skip = self.skip.min(n);
        self.skip -= skip;
        if skip == n {
            return Ok(());
        }
        let out = n - skip;
        let output: Vec<&[f32]> = self.buf.iter().map(|b| &b[skip..n]).collect();
        let result = match &self.pending_input {
            Some(p) => {
                let input: Vec<&[f32]> = p.iter().map(|c| &c[..out]).collect();
                sink(Piece { output: &output, input: Some(&input) })
            }
            None => sink(Piece { output: &output, input: None }),
        };
        if let Some(p) = &mut self.pending_input {
            for c in p {
                c.drain(..out);
            }
        }
        result
    }
}

/// Renders `channels` (equal lengths) in place, in host-sized blocks of `block` samples.
/// The engine should be in [`crate::engine::Mode::Offline`] and freshly reset.
pub fn render(engine: &mut Engine, channels: &mut [Vec<f32>], block: usize) {
    render_until(engine, channels, block, &|| false);
}

/// [`render`], checking `stop` between blocks; returns false (output incomplete) if it said so.
pub fn render_until(engine: &mut Engine, channels: &mut [Vec<f32>], block: usize, stop: &dyn Fn() -> bool) -> bool {
    let len = channels.first().map_or(0, Vec::len);
    let mut streamer = Streamer::new(engine, channels.len(), block, false);
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(len); channels.len()];
    let mut collect = |piece: Piece| -> Result<(), ()> {
        if stop() {
            return Err(());
        }
        for (o, p) in out.iter_mut().zip(piece.output) {
            o.extend_from_slice(p);
        }
        Ok(())
    };
    let input: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    let ok = streamer.push(engine, &input, &mut collect).and_then(|()| streamer.finish(engine, &mut collect)).is_ok();
    if ok {
        for (x, o) in channels.iter_mut().zip(out) {
            *x = o;
        }
    }
    ok
}

/// Stems rendered in one pass: the engine makes the denoised signal at 0 dB, and each stem is
/// formed from it before the output gain, which then applies to whichever stem is heard. So the
/// removed noise is what the denoiser took away (input minus denoised) at any gain, and the two
/// stems sum to the gained input. Returns the engine's settings and the linear gain for
/// [`gained_into`] and [`removed_into`].
///
/// The engine's own gain stage is a plain multiply after the mix, so the denoised stem formed
/// here is bit for bit what the engine gives at that gain: `y * 1.0 * g == y * g`.
pub fn stem_settings(s: Settings) -> (Settings, f32) {
    (Settings { output_gain_db: 0.0, output: Output::Denoised, ..s }, db_to_gain(s.output_gain_db))
}

/// The denoised stem of a piece of render made at 0 dB: `gain` times it, non-finite results
/// silenced as the engine does. Writes into `out` (one buffer per channel, resized).
pub fn gained_into(denoised: &[&[f32]], gain: f32, out: &mut [Vec<f32>]) {
    for (y, o) in denoised.iter().zip(out) {
        o.clear();
        o.extend(y.iter().map(|&y| finite(y * gain)));
    }
}

/// The removed-noise stem of a piece of render made at 0 dB: the (sanitised) input minus the
/// denoised output, times `gain`. Writes into `out` (one buffer per channel, resized).
pub fn removed_into(input: &[&[f32]], denoised: &[&[f32]], gain: f32, out: &mut [Vec<f32>]) {
    for ((x, y), o) in input.iter().zip(denoised).zip(out) {
        o.clear();
        o.extend(x.iter().zip(y.iter()).map(|(&x, &y)| finite((sanitise(x) - y) * gain)));
    }
}

fn finite(y: f32) -> f32 {
    if y.is_finite() {
        y
    } else {
        0.0
    }
}
