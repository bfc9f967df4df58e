//! The CPU yardstick on a whole file: RNNoise in Rust (`nnnoiseless`) over a 48 kHz mono WAV,
//! written back as a WAV, so `scripts/bench.py` can set its process CPU time beside the CLI's on
//! the same file in the same run (both read, denoise and write; neither is timed from inside).
//!
//! `target/release/examples/nnnoiseless_file IN.wav OUT.wav`

use nnnoiseless::DenoiseState;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = &args[..] else {
        eprintln!("usage: nnnoiseless_file IN.wav OUT.wav (48 kHz mono)");
        std::process::exit(2);
    };
    let mut reader = hound::WavReader::open(input).expect("readable WAV");
    let spec = reader.spec();
    assert!(spec.sample_rate == 48_000 && spec.channels == 1, "nnnoiseless needs 48 kHz mono");
    // nnnoiseless works on 16-bit-scaled floats.
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => reader.samples::<i32>().map(|s| s.unwrap() as f32 * (32768.0 / (1u32 << (spec.bits_per_sample - 1)) as f32)).collect(),
        hound::SampleFormat::Float => reader.samples::<f32>().map(|s| s.unwrap() * 32768.0).collect(),
    };
    let mut state = DenoiseState::new();
    let mut out = vec![0.0f32; samples.len()];
    let n = DenoiseState::FRAME_SIZE;
    for (i, o) in samples.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        state.process_frame(o, i);
    }
    let spec_out = hound::WavSpec { channels: 1, sample_rate: 48_000, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    let mut w = hound::WavWriter::create(output, spec_out).expect("writable WAV");
    for s in out {
        w.write_sample(s / 32768.0).unwrap();
    }
    w.finalize().unwrap();
}
