//! The bundled `crn_denoise.clap`, loaded and driven by a real CLAP host (clack-host).
//!
//! Needs the bundle: `cargo xtask bundle crn_denoise --release`, then
//! `cargo test --release -p host-tests`.
//!
//! Checked here: the parameter list and defaults (params extension), the latency extension
//! against `frame + slack * hop`, the dry path nulling against the input delayed by exactly that
//! latency (mix = 0 sent as a parameter event), finite output, noise reduction, and the
//! input/output cross-correlation peaking at the reported latency, at 48 kHz / 512 and
//! 44.1 kHz / 256 with block sizes varying up to the maximum.

use std::ffi::CStr;
use std::path::PathBuf;

use clack_extensions::latency::PluginLatency;
use clack_extensions::params::{ParamInfoBuffer, ParamInfoFlags, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;

const PLUGIN_ID: &CStr = c"org.crn-denoise.crn-denoise";
const CHANNELS: usize = 2;

// ---------------------------------------------------------------------------------------------
// A minimal host

struct Shared;

impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

fn bundle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bundled")
}

fn load_entry() -> PluginEntry {
    let path = bundle_dir().join("crn_denoise.clap");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask bundle crn_denoise --release` first",
        path.display()
    );
    // SAFETY: loading a CLAP library runs its code; this is the plugin under test.
    unsafe { PluginEntry::load(&path) }
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

fn new_instance(entry: &PluginEntry) -> PluginInstance<TestHost> {
    let info = HostInfo::new(
        "crn host-tests",
        "crn-denoise",
        "https://example.invalid",
        "0.0.0",
    )
    .unwrap();
    PluginInstance::<TestHost>::new(|_| Shared, |_| (), entry, PLUGIN_ID, &info)
        .unwrap_or_else(|e| panic!("cannot instantiate {PLUGIN_ID:?}: {e}"))
}

#[derive(Debug, Clone)]
struct Param {
    id: ClapId,
    name: String,
    min: f64,
    max: f64,
    default: f64,
    value: f64,
    flags: ParamInfoFlags,
}

/// Every parameter through the params extension: info, then the current value.
fn list_params(instance: &mut PluginInstance<TestHost>) -> Vec<Param> {
    let handle = instance.plugin_handle();
    let ext = handle
        .get_extension::<PluginParams>()
        .expect("plugin has no params extension");
    let mut buffer = ParamInfoBuffer::new();
    (0..ext.count(&handle))
        .map(|i| {
            let info = ext
                .get_info(&handle, i, &mut buffer)
                .expect("get_info failed");
            let (id, flags) = (info.id, info.flags);
            let (min, max, default) = (info.min_value, info.max_value, info.default_value);
            let name = String::from_utf8_lossy(info.name).into_owned();
            let value = ext.get_value(&handle, id).expect("get_value failed");
            Param {
                id,
                name,
                min,
                max,
                default,
                value,
                flags,
            }
        })
        .collect()
}

fn param_text(instance: &mut PluginInstance<TestHost>, id: ClapId, value: f64) -> String {
    let handle = instance.plugin_handle();
    let ext = handle.get_extension::<PluginParams>().unwrap();
    let mut buf = [0u8; 128];
    let text = ext
        .value_to_text(&handle, id, value, &mut buf)
        .expect("value_to_text failed");
    String::from_utf8_lossy(text).into_owned()
}

fn find<'a>(params: &'a [Param], name: &str) -> &'a Param {
    params.iter().find(|p| p.name == name).unwrap_or_else(|| {
        panic!(
            "no parameter named {name:?} in {:?}",
            params.iter().map(|p| &p.name).collect::<Vec<_>>()
        )
    })
}

/// Output of one activation: the audio and the latency the plugin reported for it.
struct Render {
    out: Vec<Vec<f32>>,
    latency: usize,
}

/// Activates at `rate` / `max_block` in `mode`, processes `input` on an audio thread in blocks of
/// pseudo-random sizes in 1..=max_block, sends `events` with the first block, and deactivates.
fn render(
    instance: &mut PluginInstance<TestHost>,
    rate: f64,
    max_block: usize,
    mode: RenderMode,
    input: &[Vec<f32>],
    events: &[ParamValueEvent],
) -> Render {
    {
        let handle = instance.plugin_handle();
        let render = handle
            .get_extension::<PluginRender>()
            .expect("plugin has no render extension");
        render.set(&handle, mode).expect("render mode refused");
    }
    let config = PluginAudioConfiguration {
        sample_rate: rate,
        min_frames_count: 1,
        max_frames_count: max_block as u32,
    };
    let stopped = instance
        .activate(|_, _| (), config)
        .expect("activate failed");
    let latency = {
        let handle = instance.plugin_handle();
        let ext = handle
            .get_extension::<PluginLatency>()
            .expect("plugin has no latency extension");
        ext.get(&handle) as usize
    };

    let len = input[0].len();
    let (stopped, out) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut processor = stopped.start_processing().expect("start_processing failed");
            let mut out = vec![vec![0.0f32; len]; CHANNELS];
            let mut in_block = vec![vec![0.0f32; max_block]; CHANNELS];
            let mut out_block = vec![vec![0.0f32; max_block]; CHANNELS];
            let (mut in_ports, mut out_ports) = (
                AudioPorts::with_capacity(CHANNELS, 1),
                AudioPorts::with_capacity(CHANNELS, 1),
            );
            let mut first_events = EventBuffer::new();
            for e in events {
                first_events.push(e);
            }
            let mut out_events = EventBuffer::new();
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ max_block as u64);
            let mut pos = 0;
            let mut steady = 0u64;
            while pos < len {
                let n = (1 + rng.next() as usize % max_block).min(len - pos);
                for (c, b) in in_block.iter_mut().enumerate() {
                    b[..n].copy_from_slice(&input[c][pos..pos + n]);
                }
                let audio_in = in_ports.with_input_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_input_only(
                        in_block
                            .iter_mut()
                            .map(|b| InputChannel::variable(&mut b[..n])),
                    ),
                }]);
                let mut audio_out = out_ports.with_output_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_output_only(
                        out_block.iter_mut().map(|b| &mut b[..n]),
                    ),
                }]);
                let in_events = if pos == 0 {
                    InputEvents::from_buffer(&first_events)
                } else {
                    InputEvents::empty()
                };
                out_events.clear();
                processor
                    .process(
                        &audio_in,
                        &mut audio_out,
                        &in_events,
                        &mut OutputEvents::from_buffer(&mut out_events),
                        Some(steady),
                        None,
                    )
                    .expect("process failed");
                for (c, b) in out_block.iter().enumerate() {
                    out[c][pos..pos + n].copy_from_slice(&b[..n]);
                }
                pos += n;
                steady += n as u64;
            }
            (processor.stop_processing(), out)
        })
        .join()
        .expect("audio thread panicked")
    });
    instance.deactivate(stopped);
    Render { out, latency }
}

// ---------------------------------------------------------------------------------------------
// Test signals and measurements

/// xorshift64: deterministic noise and block sizes without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in -1..1.
    fn white(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Pink-ish noise (Kellet's three-pole filter on white noise) at the given RMS.
fn pink_noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    let mut x: Vec<f32> = (0..len)
        .map(|_| {
            let w = rng.white();
            b0 = 0.99765 * b0 + w * 0.099_046;
            b1 = 0.963 * b1 + w * 0.296_516_4;
            b2 = 0.57 * b2 + w * 1.052_691_3;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect();
    let scale = rms / rms_of(&x);
    x.iter_mut().for_each(|v| *v *= scale);
    x
}

/// A vowel-like harmonic signal: gliding pitch (so it is not periodic), three formants,
/// 4 Hz syllable envelope; plus a click train at irregular intervals.
fn voice_and_clicks(len: usize, rate: f64) -> Vec<f32> {
    let mut phase = 0.0f64;
    let mut clicks = Rng(77);
    let mut next_click = (0.05 * rate) as usize;
    (0..len)
        .map(|n| {
            let t = n as f64 / rate;
            let f0 = 110.0 + 80.0 * (t / 2.0) + 10.0 * (2.0 * std::f64::consts::PI * 5.0 * t).sin();
            phase += f0 / rate;
            let mut v = 0.0;
            let mut k = 1.0;
            while k * f0 < 0.45 * rate.min(16_000.0) {
                let f = k * f0;
                let formants: f64 = [(700.0, 1.0), (1200.0, 0.6), (2600.0, 0.3)]
                    .iter()
                    .map(|&(fc, a)| a / (1.0 + ((f - fc) / 150.0).powi(2)))
                    .sum();
                v += (0.05 + formants) / k.sqrt() * (2.0 * std::f64::consts::PI * k * phase).sin();
                k += 1.0;
            }
            let envelope = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * 4.0 * t).cos();
            let mut y = 0.05 * envelope * v;
            if n == next_click {
                y += 0.5;
                next_click +=
                    (0.02 * rate) as usize + (clicks.next() % (0.03 * rate) as u64) as usize;
            }
            y as f32
        })
        .collect()
}

fn rms_of(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum()
}

/// Cross-correlation (summed over channels) of output against input delayed by each lag in
/// 0..=max_lag, over the same output window for every lag; returns the lag of the peak.
fn xcorr_peak(input: &[Vec<f32>], output: &[Vec<f32>], max_lag: usize) -> (usize, f64) {
    let len = input[0].len();
    let mut best = (0, f64::MIN);
    for lag in 0..=max_lag {
        let mut acc = 0.0f64;
        for (x, y) in input.iter().zip(output) {
            acc += (max_lag..len)
                .map(|n| y[n] as f64 * x[n - lag] as f64)
                .sum::<f64>();
        }
        if acc > best.1 {
            best = (lag, acc);
        }
    }
    best
}

/// One 20 ms frame, plus one 10 ms hop in the standard (30 ms) mode; never the block size.
fn expected_latency(rate: f64, low_latency: bool) -> usize {
    let hop = (rate / 100.0).floor() as usize;
    let frame = 2 * hop;
    frame + if low_latency { 0 } else { hop }
}

fn stereo(left: Vec<f32>, right: Vec<f32>) -> Vec<Vec<f32>> {
    vec![left, right]
}

fn assert_finite(out: &[Vec<f32>]) {
    for (c, ch) in out.iter().enumerate() {
        if let Some(i) = ch.iter().position(|v| !v.is_finite()) {
            panic!("channel {c} sample {i} is {}", ch[i]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn bundle_holds_onnx_runtime_next_to_plugin() {
    let lib = bundle_dir().join("libonnxruntime.so.1.32.0");
    assert!(
        lib.is_file(),
        "{} is missing: run `cargo xtask bundle crn_denoise --release`",
        lib.display()
    );
}

#[test]
fn descriptor_and_parameters() {
    let entry = load_entry();
    let factory = entry.get_plugin_factory().expect("no plugin factory");
    let ids: Vec<String> = factory
        .plugin_descriptors()
        .filter_map(|d| d.id().map(|i| i.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(ids, vec![PLUGIN_ID.to_string_lossy().into_owned()]);

    let mut instance = new_instance(&entry);
    let params = list_params(&mut instance);
    for p in &params {
        eprintln!(
            "param {:>10} {:<20} min {} max {} default {} value {} flags {:?}",
            p.id, p.name, p.min, p.max, p.default, p.value, p.flags
        );
    }
    assert_eq!(params.len(), 7, "expected exactly seven parameters");

    // nice-plug exposes continuous parameters normalized to 0..1 and booleans as 0/1 steps.
    let expect = [
        ("Mix", 1.0),
        ("Attenuation Limit", 0.3),
        ("Output Gain", 0.5),
        ("Stereo Link", 1.0),
        ("Bypass", 0.0),
        // Two-way choices: index 0 (30 ms, Denoised) is the default.
        ("Latency", 0.0),
        ("Output", 0.0),
    ];
    for (name, default) in expect {
        let p = find(&params, name);
        assert_eq!((p.min, p.max), (0.0, 1.0), "{name} range (two-way choices are 0 / 1 steps)");
        assert!(
            (p.default - default).abs() < 1e-6,
            "{name} default {} != {default}",
            p.default
        );
        assert!(
            (p.value - p.default).abs() < 1e-6,
            "{name} starts at {} not at its default {}",
            p.value,
            p.default
        );
        // Every Latency change restarts the plugin (an audible cut): not for automation.
        let automatable = name != "Latency";
        assert_eq!(
            p.flags.contains(ParamInfoFlags::IS_AUTOMATABLE),
            automatable,
            "{name}: automatable should be {automatable}"
        );
    }
    assert!(
        find(&params, "Bypass")
            .flags
            .contains(ParamInfoFlags::IS_BYPASS),
        "Bypass lacks the bypass flag"
    );
    assert!(find(&params, "Stereo Link")
        .flags
        .contains(ParamInfoFlags::IS_STEPPED));

    let mix = find(&params, "Mix").id;
    let gain = find(&params, "Output Gain").id;
    let atten = find(&params, "Attenuation Limit").id;
    assert_eq!(param_text(&mut instance, mix, 1.0).replace(' ', ""), "100%");
    assert_eq!(param_text(&mut instance, mix, 0.0).replace(' ', ""), "0%");
    assert!(
        param_text(&mut instance, gain, 0.5).starts_with("0.0"),
        "{}",
        param_text(&mut instance, gain, 0.5)
    );
    assert!(
        param_text(&mut instance, atten, 0.3).starts_with("30.0"),
        "{}",
        param_text(&mut instance, atten, 0.3)
    );
    drop(instance); // destroy
}

/// mix = 0 (a parameter event in the first block) must leave exactly the input, delayed by the
/// latency the plugin reports: that proves the reported latency is the true one.
#[test]
fn mix_zero_nulls_against_input_delayed_by_reported_latency() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let params = list_params(&mut instance);
    let mix = find(&params, "Mix").id;
    let latency_param = find(&params, "Latency").id;
    // Both latency modes; rates 44.1 / 48 / 96 kHz; announced maxima from 1 to 8192 (blocks of
    // random sizes up to each). The mode is chosen by a parameter change in a short render
    // first: a new latency takes effect at the next activation, as the host restarts us.
    let configs = [(44_100.0, 1), (44_100.0, 256), (48_000.0, 64), (48_000.0, 512), (48_000.0, 8192), (96_000.0, 1024), (96_000.0, 8192)];
    for low in [false, true] {
        let choose = ParamValueEvent::new(0, latency_param, Pckn::match_all(), if low { 1.0 } else { 0.0 });
        render(&mut instance, 48_000.0, 512, RenderMode::Realtime, &[vec![0.0; 512], vec![0.0; 512]], &[choose]);
    for (rate, max_block) in configs {        let len = (2.0 * rate) as usize;
        let voice = voice_and_clicks(len, rate);
        let input = stereo(
            voice
                .iter()
                .zip(pink_noise(len, 0.03, 5))
                .map(|(v, n)| v + n)
                .collect(),
            pink_noise(len, 0.1, 6),
        );
        let event = ParamValueEvent::new(0, mix, Pckn::match_all(), 0.0);
        let r = render(
            &mut instance,
            rate,
            max_block,
            RenderMode::Realtime,
            &input,
            &[event],
        );
        assert_eq!(
            r.latency,
            expected_latency(rate, low),
            "latency at {rate} Hz / {max_block}, low latency {low}"
        );
        assert!(r.latency as f64 <= 0.030 * rate + 1e-9);
        assert_finite(&r.out);
        // Skip the first latency (zeros coming out of the delay line) and the 20 ms mix ramp.
        let start = r.latency + (0.03 * rate) as usize;
        let mut worst = 0.0f32;
        for (x, y) in input.iter().zip(&r.out) {
            for n in start..len {
                worst = worst.max((y[n] - x[n - r.latency]).abs());
            }
        }
        eprintln!(
            "{rate} Hz / {max_block}: latency {} samples, mix=0 null error {worst:e}",
            r.latency
        );
        assert!(
            worst <= 1e-6,
            "mix=0 output differs from input delayed by {} samples by {worst}",
            r.latency
        );
        // Any other delay would not null.
        let off: f32 = (start..len)
            .map(|n| (r.out[1][n] - input[1][n - r.latency + 1]).abs())
            .fold(0.0, f32::max);
        assert!(off > 1e-3);
        let mix_now = list_params(&mut instance)
            .iter()
            .find(|p| p.id == mix)
            .unwrap()
            .value;
        assert_eq!(
            mix_now, 0.0,
            "the plugin should report the automated value back"
        );
    }
    }
}

/// Default parameters, offline render mode (the engine waits for every model frame, so the
/// result does not depend on how busy this machine is): latency as documented, finite output,
/// stationary noise reduced by more than 6 dB once settled, and the cross-correlation of
/// input and output peaking at exactly the reported latency.
#[test]
fn latency_denoising_and_alignment_at_two_configs() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    for (rate, max_block) in [(48_000.0, 512), (44_100.0, 256)] {
        let len = (2.0 * rate) as usize;
        let expected = expected_latency(rate, false);

        // Noise only.
        let noise = stereo(pink_noise(len, 0.05, 1), pink_noise(len, 0.05, 2));
        let r = render(
            &mut instance,
            rate,
            max_block,
            RenderMode::Offline,
            &noise,
            &[],
        );
        assert_eq!(r.latency, expected, "latency at {rate} Hz / {max_block}");
        assert_finite(&r.out);
        let settle = (0.5 * rate) as usize;
        let e_in: f64 = noise
            .iter()
            .map(|x| energy(&x[settle..len - r.latency]))
            .sum();
        let e_out: f64 = r.out.iter().map(|y| energy(&y[settle + r.latency..])).sum();
        let reduction_db = 10.0 * (e_in / e_out.max(1e-30)).log10();
        eprintln!(
            "{rate} Hz / {max_block}: latency {} samples, noise reduced by {reduction_db:.1} dB",
            r.latency
        );
        assert!(
            reduction_db > 6.0,
            "noise only reduced by {reduction_db:.2} dB at {rate} Hz"
        );

        // Voice-like signal with clicks in noise: output aligned with input at the latency.
        let voice = voice_and_clicks(len, rate);
        let noisy = stereo(
            voice
                .iter()
                .zip(pink_noise(len, 0.02, 3))
                .map(|(v, n)| v + n)
                .collect(),
            voice
                .iter()
                .zip(pink_noise(len, 0.02, 4))
                .map(|(v, n)| 0.8 * v + n)
                .collect(),
        );
        let r = render(
            &mut instance,
            rate,
            max_block,
            RenderMode::Offline,
            &noisy,
            &[],
        );
        assert_finite(&r.out);
        assert!(
            rms_of(&r.out[0][r.latency..]) > 1e-3,
            "the voice was removed along with the noise"
        );
        let (lag, _) = xcorr_peak(&noisy, &r.out, 2 * expected);
        eprintln!("{rate} Hz / {max_block}: cross-correlation peak at lag {lag}");
        assert_eq!(
            lag, r.latency,
            "cross-correlation peak is not at the reported latency"
        );
    }
    drop(instance);
}
