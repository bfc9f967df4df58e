//! One running plugin behind a C ABI: the host hands it raw port pointers and calls `run`
//! with any number of samples.
//!
//! The host's buffers are never processed in place: LADSPA and LV2 hosts may pass the same
//! buffer as input and output (or not connect a port at all), and the engine takes one mutable
//! slice per channel. Each run copies the inputs into preallocated scratch a chunk at a time,
//! runs the engine on it and copies the result out. Everything is allocated when the instance
//! is made; `run` never allocates or locks.

use std::sync::Arc;

use crn_engine::denormals::DenormalGuard;
use crn_engine::engine::{Config, Engine, Mode, MAX_CHUNK, WAIT_SHARE};
use crn_engine::meter::Meters;
use crn_engine::model::{self, Model};

use crate::pace::Pace;
use crate::ports::{self, Port, Role, Variant};

/// How long a block may wait for the model in a host that runs faster than real time: far
/// more than any frame takes (a fraction of a millisecond, a few on a busy machine), short
/// enough that a stuck worker cannot hang a render, nor a real-time host mistaken for an
/// offline one for long.
const OFFLINE_WAIT_S: f64 = 0.5;

/// The most channels any variant has.
const MAX_CHANNELS: usize = 2;

pub struct Instance {
    variant: Variant,
    ports: &'static [Port],
    /// Per port, where the host put its value or samples (null until connected).
    connections: Vec<*mut f32>,
    engine: Engine,
    /// Per channel, one chunk of samples the engine works on.
    scratch: Vec<f32>,
    pace: Pace,
}

// The raw pointers are the host's buffers; LADSPA and LV2 hand an instance to one thread at a
// time (the "instantiation" and "audio" classes never overlap for one instance).
unsafe impl Send for Instance {}

/// The model the CLAP/VST3 plugin would load: `$CRN_MODEL`, else the built-in one.
fn load_model() -> Result<Arc<Model>, String> {
    let path = std::env::var_os("CRN_MODEL");
    model::catch(|| match path {
        Some(p) => Model::from_file(std::path::Path::new(&p)),
        None => Model::embedded(),
    })
    .map(Arc::new)
}

impl Instance {
    /// A plugin at `sample_rate`. Without a model or ONNX Runtime it passes audio through,
    /// delayed by the same latency, and says why on stderr (a LADSPA or LV2 host has no other
    /// place to show it). `None` for a rate no engine can run at (not a positive number).
    pub fn new(variant: Variant, sample_rate: f64) -> Option<Self> {
        if !(sample_rate.is_finite() && sample_rate >= 1.0) {
            return None;
        }
        let model = load_model();
        // Real time (inference on a worker thread), but without the process-wide wait budget:
        // LADSPA and LV2 hosts that render offline cannot say so (see `Config::process_budget`).
        // The worker's binding is warmed before the host gets the instance: the first frames
        // are due soon after the stream starts (at 20 ms in the very block that completes them),
        // and ONNX Runtime's first run of a shape is many times slower than the next.
        let config = Config::new(sample_rate as f32, variant.channels, Mode::Realtime)
            .with_latency(variant.latency)
            .without_process_budget()
            .with_warm_up();
        let engine = Engine::with_config(config, model.as_ref().ok().cloned(), Arc::new(Meters::default()));
        if let Some(why) = model.err().or_else(|| engine.passthrough_reason()) {
            eprintln!("crn-denoise ({}): passing audio through, delayed by the same latency: {why}", variant.label);
        }
        let ports = variant.ports();
        let mut instance = Self {
            variant,
            ports,
            connections: vec![std::ptr::null_mut(); ports.len()],
            engine,
            scratch: vec![0.0; MAX_CHUNK * variant.channels],
            pace: Pace::default(),
        };
        instance.activate();
        Some(instance)
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The delay from input to output in samples.
    pub fn latency(&self) -> usize {
        self.engine.latency()
    }

    pub fn is_denoising(&self) -> bool {
        self.engine.is_denoising()
    }

    /// Frames that took the fallback gains (late, or skipped by a worker far behind).
    pub fn late_frames(&self) -> u64 {
        self.engine.late_frames()
    }

    /// Remembers where port `index` lives (a host may connect, and reconnect, at any time
    /// between runs). Out-of-range indices are ignored. The latency port gets its value at once,
    /// for hosts that read it before the first run.
    ///
    /// # Safety
    /// `data` is null or valid for the port (one value for a control port, the block for an
    /// audio port) until the next connection of that port.
    pub unsafe fn connect(&mut self, index: usize, data: *mut f32) {
        if let Some(c) = self.connections.get_mut(index) {
            *c = data;
            if self.ports[index].role == Role::Latency && !data.is_null() {
                *data = self.latency() as f32;
            }
        }
    }

    fn connection(&self, role: Role) -> *mut f32 {
        self.ports.iter().position(|p| p.role == role).map_or(std::ptr::null_mut(), |i| self.connections[i])
    }

    /// The controls' current values as engine settings; unconnected ones read as defaults.
    fn read_settings(&self) -> crn_engine::engine::Settings {
        // SAFETY: connected control ports point at one value (`connect`'s contract).
        ports::settings(self.ports, |i| {
            let p = self.connections[i];
            (!p.is_null() && self.ports[i].is_input()).then(|| unsafe { *p })
        })
    }

    /// Starts (again) from silence, with the controls at their current values without a ramp.
    pub fn activate(&mut self) {
        let s = self.read_settings();
        self.engine.set(s);
        self.engine.reset();
        self.pace.reset();
    }

    /// Processes `n` samples from the input ports to the output ports. Any `n`, including 0 and
    /// more than the engine's chunk. An unconnected input is silence; with an output
    /// unconnected nothing can be written, and the block is skipped.
    ///
    /// # Safety
    /// Every connected audio port is valid for `n` samples (`connect`'s contract).
    pub unsafe fn run(&mut self, n: usize) {
        let _denormals = DenormalGuard::new();
        let settings = self.read_settings();
        self.engine.set(settings);
        let latency = self.connection(Role::Latency);
        if !latency.is_null() {
            *latency = self.latency() as f32;
        }
        let channels = self.variant.channels;
        let mut inputs = [std::ptr::null::<f32>(); MAX_CHANNELS];
        let mut outputs = [std::ptr::null_mut::<f32>(); MAX_CHANNELS];
        for ch in 0..channels {
            inputs[ch] = self.connection(Role::AudioIn(ch));
            outputs[ch] = self.connection(Role::AudioOut(ch));
        }
        if outputs[..channels].iter().any(|p| p.is_null()) {
            return;
        }
        let rate = self.engine.spec().sample_rate as f64;
        let offline = self.pace.run(n as f64 / rate);
        let mut done = 0;
        while done < n {
            let len = (n - done).min(MAX_CHUNK);
            // Faster than real time, a block may wait for every frame (up to half a second);
            // in real time, half its duration (without the process budget: see `new`).
            self.engine.set_wait_share(if offline { OFFLINE_WAIT_S * rate / len as f64 } else { WAIT_SHARE });
            // All inputs are read before any output is written: an output may be an input.
            for (ch, chunk) in self.scratch.chunks_mut(MAX_CHUNK).enumerate() {
                let dst = &mut chunk[..len];
                if inputs[ch].is_null() {
                    dst.fill(0.0);
                } else {
                    dst.copy_from_slice(std::slice::from_raw_parts(inputs[ch].add(done), len));
                }
            }
            let mut chunks = self.scratch.chunks_mut(MAX_CHUNK).map(|c| &mut c[..len]);
            let mut buffers: [&mut [f32]; MAX_CHANNELS] = [chunks.next().unwrap_or(&mut []), chunks.next().unwrap_or(&mut [])];
            self.engine.process(&mut buffers[..channels]);
            for (ch, chunk) in self.scratch.chunks(MAX_CHUNK).enumerate() {
                std::ptr::copy_nonoverlapping(chunk.as_ptr(), outputs[ch].add(done), len);
            }
            done += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::VARIANTS;

    fn impulse_delay(out: &[f32]) -> usize {
        out.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0
    }

    /// With mix at 0 the output is the input delayed by exactly the reported latency, at every
    /// rate, in blocks of 0 to beyond the engine's chunk, with the input buffer also used as
    /// the output (in place), and the reported value lands on the latency port.
    #[test]
    fn dry_output_is_the_input_delayed_by_the_reported_latency() {
        for v in VARIANTS {
            for rate in [8_000.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
                let mut inst = Instance::new(*v, rate).unwrap();
                let ports = v.ports();
                let mut controls: Vec<f32> = ports.iter().map(|p| p.default()).collect();
                let mix = ports.iter().position(|p| p.role == Role::Mix).unwrap();
                controls[mix] = 0.0;
                let n = MAX_CHUNK * 2 + 1000;
                let mut bufs = vec![vec![0.0f32; n]; v.channels];
                for (ch, b) in bufs.iter_mut().enumerate() {
                    b[100 + ch] = 1.0;
                }
                unsafe {
                    for (i, p) in ports.iter().enumerate() {
                        match p.role {
                            Role::AudioIn(ch) | Role::AudioOut(ch) => inst.connect(i, bufs[ch].as_mut_ptr()),
                            _ => inst.connect(i, &mut controls[i]),
                        }
                    }
                    inst.activate();
                    let mut pos = 0;
                    for block in [0, 1, 64, MAX_CHUNK + 17, 0, 333].iter().cycle() {
                        let len = (*block).min(n - pos);
                        for (ch, b) in bufs.iter().enumerate() {
                            inst.connect(ports.iter().position(|p| p.role == Role::AudioIn(ch)).unwrap(), b.as_ptr().add(pos) as *mut f32);
                            inst.connect(ports.iter().position(|p| p.role == Role::AudioOut(ch)).unwrap(), b.as_ptr().add(pos) as *mut f32);
                        }
                        inst.run(len);
                        pos += len;
                        if pos == n {
                            break;
                        }
                    }
                }
                let lat = controls[ports.iter().position(|p| p.role == Role::Latency).unwrap()];
                assert_eq!(lat as usize, v.latency_at(rate as f32), "{} at {rate}", v.label);
                for (ch, b) in bufs.iter().enumerate() {
                    assert_eq!(impulse_delay(b), 100 + ch + lat as usize, "{} at {rate}", v.label);
                    assert!((b[100 + ch + lat as usize] - 1.0).abs() < 1e-4);
                }
            }
        }
    }

    /// Unconnected ports never crash: no outputs, nothing written; no inputs, silence; no
    /// controls, defaults.
    #[test]
    fn unconnected_ports_are_harmless() {
        for v in VARIANTS {
            let mut inst = Instance::new(*v, 48_000.0).unwrap();
            unsafe { inst.run(512) };
            let mut out = vec![vec![1.0f32; 512]; v.channels];
            for (i, p) in v.ports().iter().enumerate() {
                if let Role::AudioOut(ch) = p.role {
                    unsafe { inst.connect(i, out[ch].as_mut_ptr()) };
                }
            }
            unsafe { inst.run(512) };
            assert!(out.iter().flatten().all(|&x| x == 0.0));
        }
        assert!(Instance::new(VARIANTS[0], 0.0).is_none());
        assert!(Instance::new(VARIANTS[0], f64::NAN).is_none());
    }
}
