//! Offline rendering of whole signals through the engine: what the CLI does to a file and
//! what a host's bounce does, with the latency trimmed and the tail flushed so the output
//! lines up with the input sample for sample.

use crate::engine::Engine;

/// Renders `channels` (equal lengths) in place, in host-sized blocks of `block` samples.
/// The engine should be in [`crate::engine::Mode::Offline`] and freshly reset.
pub fn render(engine: &mut Engine, channels: &mut [Vec<f32>], block: usize) {
    render_until(engine, channels, block, &|| false);
}

/// [`render`], checking `stop` between blocks; returns false (output incomplete) if it said so.
pub fn render_until(engine: &mut Engine, channels: &mut [Vec<f32>], block: usize, stop: &dyn Fn() -> bool) -> bool {
    // As the plugin does around each `process` (`DenormalGuard` in lib.rs): the same arithmetic
    // as the plugin, and no denormal slow-down on decaying tails; the caller's flags come back after.
    let _denormals = crate::denormals::DenormalGuard::new();
    let len = channels.first().map_or(0, Vec::len);
    let latency = engine.latency();
    let block = block.max(1);
    let nch = channels.len();
    let mut buf: Vec<Vec<f32>> = vec![vec![0.0; block]; nch];
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(len); nch];
    let total = len + latency;
    let mut pos = 0;
    while pos < total {
        if stop() {
            return false;
        }
        let n = block.min(total - pos);
        for (b, x) in buf.iter_mut().zip(channels.iter()) {
            for (i, v) in b[..n].iter_mut().enumerate() {
                *v = x.get(pos + i).copied().unwrap_or(0.0);
            }
        }
        let mut slices: Vec<&mut [f32]> = buf.iter_mut().map(|b| &mut b[..n]).collect();
        engine.process(&mut slices);
        for (o, b) in out.iter_mut().zip(&buf) {
            // Drop the first `latency` samples: they precede the input.
            let skip = latency.saturating_sub(pos).min(n);
            o.extend_from_slice(&b[skip..n]);
        }
        pos += n;
    }
    for (x, o) in channels.iter_mut().zip(out) {
        *x = o;
    }
    true
}

/// The removed-noise stem of a render: the (sanitised) input minus the denoised output,
/// sample for sample what the engine's [`crate::engine::Output::Removed`] gives, so one pass
/// can write both stems.
pub fn removed(input: &[Vec<f32>], denoised: &[Vec<f32>]) -> Vec<Vec<f32>> {
    input
        .iter()
        .zip(denoised)
        .map(|(x, y)| x.iter().zip(y).map(|(&x, &y)| crate::engine::sanitise(x) - y).collect())
        .collect()
}
