//! The LADSPA/LV2 plugin's CPU at PipeWire's usual quanta (128, 256 and 1024 samples at
//! 48 kHz, mono as in the denoised microphone) beside the CLAP's: each block handed over at the
//! pace of a host callback, for SECONDS per row. "LADSPA / LV2" is `crn_live::Instance`, what
//! both libraries' `run` calls (the C entry points add nothing per block); "CLAP" is the engine
//! as the CLAP/VST3 plugin configures it in `activate` (src/lib.rs: real time, the host's
//! block as the maximum). CPU is the time every thread of the process spent on a CPU
//! (/proc/self/task/*/schedstat, nanoseconds: the host's audio thread and the inference
//! worker), per second of audio. Prints a markdown table.
//! `cargo run --release -p crn-live --example quanta [SECONDS]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crn_engine::engine::{Config, Engine, Mode};
use crn_engine::meter::Meters;
use crn_engine::model::Model;
use crn_live::{Instance, Role, VARIANTS};

const RATE: usize = 48_000;

/// CPU time of every thread of this process so far, in seconds.
fn process_cpu_s() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux /proc");
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>() as f64
        * 1e-9
}

/// Calls `block(input, output)` once per `quantum` samples at the pace of a host, for
/// `seconds`; returns the CPU seconds per second of audio.
fn paced(quantum: usize, seconds: f64, mut block: impl FnMut(&[f32], &mut [f32])) -> f64 {
    // Speech-like enough for the model: a gliding tone in bursts, over hiss.
    let mut seed = 0x9e37_79b9_u32;
    let input: Vec<f32> = (0..RATE)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let hiss = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / RATE as f32;
            let burst = if (i / 9_600) % 2 == 0 { 0.2 } else { 0.0 };
            0.03 * hiss + burst * (2.0 * std::f32::consts::PI * (150.0 + 100.0 * t) * t).sin()
        })
        .collect();
    let mut out = vec![0.0f32; quantum];
    let blocks = (seconds * RATE as f64 / quantum as f64).ceil() as usize;
    let period = Duration::from_secs_f64(quantum as f64 / RATE as f64);
    let cpu0 = process_cpu_s();
    let start = Instant::now();
    for b in 0..blocks {
        if let Some(w) = (start + period * b as u32).checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        let at = (b * quantum) % (RATE - quantum);
        block(&input[at..at + quantum], &mut out);
    }
    (process_cpu_s() - cpu0) / (blocks * quantum) as f64 * RATE as f64
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(4.0);
    let model = Arc::new(Model::embedded().expect("model loads (scripts/fetch-onnxruntime.sh)"));
    let mono = *VARIANTS.iter().find(|v| v.label == "crn_denoise_mono").unwrap();
    println!("| plugin | quantum (samples) | callback period (ms) | CPU per second of audio (ms) | % of one core | late frames |");
    println!("|---|---|---|---|---|---|");
    for quantum in [128usize, 256, 1024] {
        let period_ms = quantum as f64 / RATE as f64 * 1e3;
        // LADSPA / LV2: the instance with its ports connected, as a host does.
        let mut inst = Instance::new(mono, RATE as f64).expect("48 kHz");
        assert!(inst.is_denoising(), "no model: set CRN_ORT_LIB to the ONNX Runtime library");
        let ports = mono.ports();
        let mut controls: Vec<f32> = ports.iter().map(|p| p.default()).collect();
        let mut inbuf = vec![0.0f32; quantum];
        let mut outbuf = vec![0.0f32; quantum];
        // SAFETY: every port points at a live buffer of the right size for the whole run.
        unsafe {
            for (i, p) in ports.iter().enumerate() {
                match p.role {
                    Role::AudioIn(_) => inst.connect(i, inbuf.as_mut_ptr()),
                    Role::AudioOut(_) => inst.connect(i, outbuf.as_mut_ptr()),
                    _ => inst.connect(i, &mut controls[i]),
                }
            }
        }
        inst.activate();
        let (inp, outp) = (inbuf.as_mut_ptr(), outbuf.as_ptr());
        let cpu = paced(quantum, seconds, |x, y| unsafe {
            std::ptr::copy_nonoverlapping(x.as_ptr(), inp, quantum);
            inst.run(quantum);
            std::ptr::copy_nonoverlapping(outp, y.as_mut_ptr(), quantum);
        });
        println!("| LADSPA / LV2 (`crn_denoise_mono`) | {quantum} | {period_ms:.2} | {:.1} | {:.2} | {} |", cpu * 1e3, cpu * 100.0, inst.late_frames());
        drop(inst);
        // CLAP: the engine as the plugin's `activate` makes it for this host block.
        let config = Config::new(RATE as f32, 1, Mode::Realtime).with_max_block(quantum);
        let mut e = Engine::with_config(config, Some(model.clone()), Arc::new(Meters::default()));
        e.reset();
        let cpu = paced(quantum, seconds, |x, y| {
            y.copy_from_slice(x);
            e.process(&mut [y]);
        });
        println!("| CLAP (engine as `activate` configures it) | {quantum} | {period_ms:.2} | {:.1} | {:.2} | {} |", cpu * 1e3, cpu * 100.0, e.late_frames());
    }
}
