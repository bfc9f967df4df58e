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

use crn_engine::engine::{Config, Engine, Mode};
use crn_engine::meter::Meters;

use common::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
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
