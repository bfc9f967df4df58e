//! The real-time hand-off under the scheduling hosts really use: the audio thread and the
//! worker pinned to one CPU (the audio thread at SCHED_FIFO above the worker where the machine
//! allows it), many instances in one process drawing on one wait budget, and a worker that
//! sleeps while there is nothing to do.
//!
//! Its own test binary: the wait budget is process-wide, so these tests must not share a
//! process with others that wait, and they run one at a time (`SERIAL`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crn_engine::engine::{Config, Engine, LatencyMode, Mode, WAIT_SHARE};
use crn_engine::meter::Meters;

use common::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pins the calling thread to the first CPU it may run on; threads it starts inherit the mask,
/// as a host's worker threads inherit `taskset`'s.
fn pin_to_one_cpu() -> usize {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        let cpu = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set)).expect("some CPU is allowed");
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        assert_eq!(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one), 0);
        cpu
    }
}

/// SCHED_FIFO for the calling thread at two thirds of the range: above the worker (a third),
/// as JACK and PipeWire callbacks are. False where the machine does not allow it.
fn try_audio_priority() -> bool {
    unsafe {
        let lo = libc::sched_get_priority_min(libc::SCHED_FIFO);
        let hi = libc::sched_get_priority_max(libc::SCHED_FIFO);
        let param = libc::sched_param { sched_priority: lo + 2 * (hi - lo) / 3 };
        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0
    }
}

/// Blocks of `block` samples handed to `e` at a host's pace for `seconds`; returns the late
/// frames counted after the first `settle` seconds (start-up: the model's first runs).
fn paced_late_frames(e: &mut Engine, block: usize, seconds: f64, settle: f64) -> (u64, u64) {
    let rate = e.spec().sample_rate as f64;
    let src = pink_noise(rate as usize, 5, 0.1);
    let mut buf = vec![0.0f32; block];
    let period = Duration::from_secs_f64(block as f64 / rate);
    let blocks = (seconds * rate / block as f64) as usize;
    let settle_blocks = (settle * rate / block as f64) as usize;
    let start = Instant::now();
    let mut late_at_settle = 0;
    let mut pos = 0;
    for b in 0..blocks {
        if let Some(w) = (start + period * b as u32).checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        for x in buf.iter_mut() {
            *x = src[pos % src.len()];
            pos += 1;
        }
        e.process(&mut [&mut buf[..]]);
        if b + 1 == settle_blocks {
            late_at_settle = e.late_frames();
        }
    }
    let frames = ((blocks - settle_blocks) * block / e.spec().hop) as u64;
    (e.late_frames() - late_at_settle, frames)
}

/// Issue 16, defect 4: a host pinned to one core (taskset) with its callback at real-time
/// priority, in the 20 ms mode, where every hop boundary waits for the model. The worker runs
/// at a lower priority on the same core, so a wait that keeps the core (spinning, yielding)
/// starves it: every frame came back after its deadline. Waiting must hand the core over.
#[test]
fn audio_thread_and_worker_on_one_cpu_have_no_late_frames() {
    let _serial = serial();
    let results = std::thread::spawn(|| {
        let cpu = pin_to_one_cpu();
        let fifo = try_audio_priority();
        if !fifo {
            eprintln!("note: SCHED_FIFO not allowed here; the audio thread runs at normal priority (one CPU still shared)");
        }
        let mut out = Vec::new();
        for (mode, block) in [(LatencyMode::Low, 480usize), (LatencyMode::Low, 256), (LatencyMode::Standard, 1024)] {
            // Made on the pinned thread: the worker inherits the one-CPU mask.
            let cfg = Config::new(48000.0, 2, Mode::Realtime).with_latency(mode).with_max_block(block);
            let mut e = Engine::with_config(cfg, Some(model()), Arc::new(Meters::default()));
            e.reset();
            let (late, frames) = paced_late_frames(&mut e, block, 3.0, 1.0);
            out.push((mode, block, late, frames, e.worker_is_realtime()));
        }
        (cpu, fifo, out)
    })
    .join()
    .unwrap();
    let (cpu, fifo, rows) = results;
    for (mode, block, late, frames, worker_rt) in rows {
        eprintln!("cpu {cpu}, audio FIFO {fifo}, worker FIFO {worker_rt}: {mode:?} block {block}: {late} of {frames} frames late");
        // Both threads outrank everything else on that CPU when FIFO is allowed, and a model run
        // takes a fraction of a millisecond against a wait budget of 2.7 ms or more: no frame
        // should be late. One in a hundred allows for a stray kernel hiccup on a shared machine;
        // the starved hand-off made every frame late.
        assert!(late * 100 <= frames, "{mode:?} block {block}: {late} of {frames} frames late on one CPU");
    }
}

/// Issue 16, defect 4: the wait budget is per process. Six instances in series on one thread
/// (a host's chain), each with a worker too slow for every frame: before, each waited half of
/// every block, three blocks' worth in all. Together they may now wait only the process's
/// share of the time that passes (plus one block's share of start credit).
#[test]
fn instances_in_one_process_share_one_wait_budget() {
    let _serial = serial();
    let block = 480usize;
    let rate = 48000.0f32;
    let mut engines: Vec<Engine> = (0..6)
        .map(|_| {
            let cfg = Config::new(rate, 1, Mode::Realtime).with_latency(LatencyMode::Low).with_max_block(block);
            let mut e = Engine::with_config(cfg, Some(model()), Arc::new(Meters::default()));
            e.reset();
            e.set_worker_delay_us(15_000);
            e
        })
        .collect();
    let src = pink_noise(block * 100, 9, 0.1);
    let start = Instant::now();
    for chunk in src.chunks(block) {
        for e in &mut engines {
            let mut buf = chunk.to_vec();
            e.process(&mut [&mut buf[..]]);
        }
    }
    let wall = start.elapsed();
    let waited: Duration = engines.iter().map(|e| e.wait_stats().total).sum();
    let block_share = Duration::from_secs_f64(block as f64 / rate as f64 * WAIT_SHARE);
    let allowed = wall.mul_f64(WAIT_SHARE) + block_share + Duration::from_millis(2);
    let late: u64 = engines.iter().map(|e| e.late_frames()).sum();
    eprintln!("waited {waited:?} in {wall:?} (allowed {allowed:?}), {late} frames late");
    assert!(late > 0, "the workers were meant to be too slow");
    assert!(waited <= allowed, "instances waited {waited:?} in {wall:?}: more than the process's share ({allowed:?})");
}

/// Issue 16, defect 5: a worker with nothing to do sleeps until a frame comes (it used to wake
/// every 50 ms, also while the plugin was deactivated).
#[test]
fn an_idle_worker_sleeps_until_work_arrives() {
    let _serial = serial();
    let mut e = Engine::with_config(Config::new(48000.0, 1, Mode::Realtime).with_max_block(480), Some(model()), Arc::new(Meters::default()));
    e.reset();
    let mut x = pink_noise(480 * 10, 2, 0.1);
    for b in x.chunks_mut(480) {
        e.process(&mut [b]);
    }
    // Ten frames take the worker a few milliseconds; then it has nothing to do.
    std::thread::sleep(Duration::from_millis(200));
    let before = e.worker_wakeups();
    std::thread::sleep(Duration::from_millis(400));
    let idle_wakeups = e.worker_wakeups() - before;
    // A polling worker woke about 8 times here; one spurious return from the OS is allowed.
    assert!(idle_wakeups <= 1, "the idle worker woke {idle_wakeups} times in 400 ms");
    // And it still wakes for work.
    let mut y = pink_noise(480, 3, 0.1);
    e.process(&mut [&mut y[..]]);
    let t = Instant::now();
    while e.worker_wakeups() == before + idle_wakeups && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(e.worker_wakeups() > before + idle_wakeups, "the worker did not wake for a new frame");
}
