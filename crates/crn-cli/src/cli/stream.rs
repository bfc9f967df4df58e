//! The render every front end shares: a source of planar samples (a file's decoder, or an array
//! in memory for the Python package) streamed through the engine exactly as the plugin's offline
//! bounce renders, into the stems asked for. One function, so the CLI and the package give the
//! same samples for the same input and settings.

use std::fs::File;
use std::sync::Arc;

use crate::audio_io::{Decoder, Writer};
use crn_engine::engine::{check_sample_rate, Engine, Mode, Settings};
use crn_engine::meter::Meters;
use crn_engine::model::Model;
use crn_engine::render::{self, Piece, Streamer};

/// Host block size for the offline render: the engine's largest chunk, so each model call takes
/// every frame of that many samples at once (68 or 69 frames at 48 kHz; `crn_engine::inline`).
/// Another block size gives the same output to float rounding.
pub const BLOCK: usize = crn_engine::engine::MAX_CHUNK;

/// Where the samples come from, a piece at a time.
pub trait Source {
    fn sample_rate(&self) -> u32;
    fn channels(&self) -> usize;
    /// Appends the next piece to `out` (one buffer per channel); false once the source has ended
    /// and nothing was appended.
    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<bool, String>;
}

impl Source for Decoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn read(&mut self, out: &mut [Vec<f32>]) -> Result<bool, String> {
        Decoder::read(self, out)
    }
}

/// Where a stem goes, a piece at a time (one slice per channel, equal lengths).
pub trait Sink {
    fn write(&mut self, piece: &[&[f32]]) -> Result<(), String>;
}

impl Sink for Writer<File> {
    fn write(&mut self, piece: &[&[f32]]) -> Result<(), String> {
        Writer::write(self, piece)
    }
}

/// A stem collected in memory, one buffer per channel.
impl Sink for Vec<Vec<f32>> {
    fn write(&mut self, piece: &[&[f32]]) -> Result<(), String> {
        for (c, p) in self.iter_mut().zip(piece) {
            c.extend_from_slice(p);
        }
        Ok(())
    }
}

/// Streams `source` through the engine exactly as the plugin's offline bounce renders, a host
/// block at a time, into the stems asked for: `denoised` and `removed` (input minus denoised),
/// both formed before the output gain, which then applies to each (so at any gain the removed
/// stem holds only what was taken away, and the two sum to the gained input). `progress` hears
/// the frames read so far after each piece. Returns the seconds of audio processed. Refuses a
/// sample rate outside [`crn_engine::engine::SAMPLE_RATES`].
pub fn denoise_stream(
    model: Arc<Model>,
    source: &mut dyn Source,
    settings: Settings,
    mut denoised: Option<&mut dyn Sink>,
    mut removed: Option<&mut dyn Sink>,
    progress: &mut dyn FnMut(u64),
) -> Result<f64, String> {
    let (rate, channels) = (source.sample_rate(), source.channels());
    check_sample_rate(rate)?;
    let mut engine = Engine::new(rate as f32, channels, Some(model), Mode::Offline, Arc::new(Meters::default()));
    let (engine_settings, gain) = render::stem_settings(settings);
    engine.set(engine_settings);
    engine.reset();
    let mut streamer = Streamer::new(&engine, channels, BLOCK, removed.is_some());
    let mut stem: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut sink = |piece: Piece| -> Result<(), String> {
        if let Some(w) = denoised.as_deref_mut() {
            render::gained_into(piece.output, gain, &mut stem);
            w.write(&stem.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        }
        if let (Some(w), Some(input)) = (removed.as_deref_mut(), piece.input) {
            render::removed_into(input, piece.output, gain, &mut stem);
            w.write(&stem.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        }
        Ok(())
    };
    let mut packet: Vec<Vec<f32>> = vec![Vec::new(); channels];
    let mut frames = 0u64;
    loop {
        if crate::interrupt::requested() {
            return Err("interrupted".into());
        }
        packet.iter_mut().for_each(Vec::clear);
        if !source.read(&mut packet)? {
            break;
        }
        frames += packet[0].len() as u64;
        progress(frames);
        let slices: Vec<&[f32]> = packet.iter().map(Vec::as_slice).collect();
        streamer.push(&mut engine, &slices, &mut sink)?;
    }
    streamer.finish(&mut engine, &mut sink)?;
    match engine.worker_error() {
        Some(e) => Err(format!("inference failed: {e}")),
        None => Ok(frames as f64 / rate as f64),
    }
}
