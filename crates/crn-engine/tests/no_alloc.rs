//! The real-time audio path never allocates: a counting allocator watches the thread that
//! calls `Engine::process` (stereo, several rates and block sizes, parameter changes, both
//! outputs, a latency switch, reset, a slow worker waited for, a failed model).

mod common;

use crn_engine::engine::{LatencyMode, Mode, Output, Settings};
use crn_engine::test_hooks::{AllocationWatch, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn process_never_allocates_on_the_audio_thread() {
    for (rate, max_block) in [(48000.0f32, 512usize), (44100.0, 64), (16000.0, 4096)] {
        let mut e = crn_engine::engine::Engine::with_max_block(
            rate,
            2,
            Some(common::model()),
            Mode::Realtime,
            std::sync::Arc::new(crn_engine::meter::Meters::default()),
            max_block,
        );
        e.reset();
        let mut l = common::pink_noise(rate as usize * 4, 1, 0.1);
        let mut r = common::pink_noise(rate as usize * 4, 2, 0.1);
        l[100] = f32::NAN;
        r[200] = f32::INFINITY;
        let blocks = [1usize, 7, max_block, 480, 33, max_block.min(4096), 0, 255, 8192];
        let watch = AllocationWatch::start();
        let mut pos = 0;
        for (i, &b) in blocks.iter().cycle().enumerate() {
            // 8192 exceeds every announced maximum here: split into chunks, still no allocation.
            let n = b.min(l.len() - pos);
            e.set(Settings {
                mix: (i % 10) as f32 / 10.0,
                stereo_link: i % 3 == 0,
                bypass: i % 17 == 0,
                output_gain_db: (i % 7) as f32 * 2.0 - 6.0,
                output: if i % 5 < 2 { Output::Removed } else { Output::Denoised },
                ..Settings::default()
            });
            // A worker too slow for its frames: waits run to their deadline (the doorbell's
            // futex, the process budget) and frames are late.
            if i == 2 {
                e.set_worker_delay_us(4_000);
            }
            if i == 10 {
                e.set_worker_delay_us(0);
            }
            // The 20 ms mode: every boundary waits.
            if i == 6 {
                e.set_latency_mode(LatencyMode::Low);
            }
            e.process(&mut [&mut l[pos..pos + n], &mut r[pos..pos + n]]);
            if i == 50 {
                e.reset();
            }
            // The model fails mid-stream: the passthrough that follows must not allocate either
            // (reading the error message would clone a String on every hop). Early enough that
            // even the 16 kHz run, whose 4 s of input last only ~35 blocks here, gets there.
            if i == 12 {
                e.inject_model_failure();
            }
            // Let the worker reach the failure before the blocks that must pass through: this
            // loop does not wait for it (the process-wide wait budget runs dry in an unpaced loop).
            if i == 13 {
                let t = std::time::Instant::now();
                while !e.worker_idle() && t.elapsed() < std::time::Duration::from_secs(10) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            pos += n;
            if pos >= l.len() || i > 2000 {
                break;
            }
        }
        assert_eq!(watch.stop(), 0, "{rate} Hz: process allocated");
        assert!(e.worker_error().is_some(), "{rate} Hz: the injected failure did not happen");
        assert!(e.late_frames() > 0 && e.wait_stats().waits > 0, "{rate} Hz: the waiting path was not taken");
        assert!(l.iter().chain(&r).all(|v| v.is_finite()));
    }
}
