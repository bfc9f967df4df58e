//! Inference off the audio thread (real-time mode only; offline renders run the model inline).
//!
//! The audio thread and the worker trade preallocated [`Slot`]s through lock-free queues:
//! `free` -> (audio fills magnitudes) -> `todo` -> (worker runs the model) -> `done` -> (audio
//! reads the estimate) -> `free`. Nothing on the audio side allocates or locks: it checks
//! `done` (an atomic queue) and, until a deadline of its own, sleeps on the [`Doorbell`] the
//! worker rings after each frame. The worker keeps each channel's
//! recurrent state, so every frame must reach it in order; a frame that finds no free slot is
//! skipped by the model and counted.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use crate::doorbell::Doorbell;

use crate::inference::{self, Outcome};
use crate::model::Model;
use crate::stft::MODEL_BINS;

pub struct Slot {
    pub seq: u64,
    /// The worker zeroes every channel's model state before this frame (after a reset).
    pub reset: bool,
    pub mags: Vec<f32>,
    pub est: Vec<f32>,
    pub ok: bool,
}

struct Shared {
    free: ArrayQueue<Box<Slot>>,
    todo: ArrayQueue<Box<Slot>>,
    done: ArrayQueue<Box<Slot>>,
    stop: AtomicBool,
    /// Test hook: extra time the worker spends per frame, to prove late frames are handled.
    delay_us: AtomicU32,
    /// Test hook: the next frame fails as a broken model would.
    inject_failure: AtomicBool,
    /// Set by the first model error, which then turns every later frame into passthrough. The
    /// audio thread reads only this flag; the message is for the editor and the CLI.
    failed: AtomicBool,
    error: Mutex<Option<String>>,
    /// Whether the worker got real-time scheduling (for benchmarks and diagnostics).
    realtime: AtomicBool,
    /// Times the worker returned from sleeping (test hook: it must not poll while idle).
    wakeups: AtomicU64,
    /// Rung after every finished frame; the audio thread sleeps on it while it waits.
    doorbell: Doorbell,
}

/// Test hook: the next worker thread fails to start, as when the system is out of threads.
static FAIL_NEXT_SPAWN: AtomicBool = AtomicBool::new(false);

/// Test hook: makes the next [`Worker::spawn`] fail as if the thread could not be created.
#[cfg(feature = "test-hooks")]
pub fn fail_next_spawn() {
    FAIL_NEXT_SPAWN.store(true, Ordering::Relaxed);
}

pub struct Worker {
    shared: Arc<Shared>,
    /// Frames that may be in flight at once (read by the test hooks).
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    slots: usize,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread; the error says why it could not start (the caller passes
    /// audio through rather than panic inside a host's `activate`).
    /// With `warm_up`, the worker first runs one frame of silence through its own binding
    /// (then clears its state) and this waits for it, up to a few seconds.
    pub fn spawn(model: Arc<Model>, channels: usize, slots: usize, warm_up: bool) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            free: ArrayQueue::new(slots),
            todo: ArrayQueue::new(slots),
            done: ArrayQueue::new(slots),
            stop: AtomicBool::new(false),
            delay_us: AtomicU32::new(0),
            inject_failure: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            realtime: AtomicBool::new(false),
            wakeups: AtomicU64::new(0),
            doorbell: Doorbell::default(),
        });
        for _ in 0..slots {
            let slot = Slot { seq: 0, reset: false, mags: vec![0.0; channels * MODEL_BINS], est: vec![0.0; channels * MODEL_BINS], ok: false };
            let _ = shared.free.push(Box::new(slot));
        }
        let s = shared.clone();
        let (warmed, warm) = std::sync::mpsc::channel();
        let warmed = warm_up.then_some(warmed);
        let thread = if FAIL_NEXT_SPAWN.swap(false, Ordering::Relaxed) {
            Err(std::io::Error::other("injected spawn failure (test hook)"))
        } else {
            std::thread::Builder::new().name("crn-denoise inference".into()).spawn(move || run(s, model, channels, warmed))
        }
        .map_err(|e| format!("cannot start the inference thread: {e}"))?;
        if warm_up {
            // However it went: a model that fails here fails on the first frame too, and says so.
            let _ = warm.recv_timeout(Duration::from_secs(5));
        }
        Ok(Self { shared, slots, thread: Some(thread) })
    }

    /// A slot to fill, or `None` when the worker is so far behind that all are in flight.
    pub fn take_free(&self) -> Option<Box<Slot>> {
        self.shared.free.pop()
    }

    pub fn submit(&self, slot: Box<Slot>) {
        if let Err(slot) = self.shared.todo.push(slot) {
            let _ = self.shared.free.push(slot); // cannot happen: the queues hold every slot
        }
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// The oldest finished frame, if any; never waits.
    pub fn take_done(&self) -> Option<Box<Slot>> {
        self.shared.done.pop()
    }

    /// Rung after every finished frame (see [`Doorbell`]).
    pub fn doorbell(&self) -> &Doorbell {
        &self.shared.doorbell
    }

    pub fn recycle(&self, slot: Box<Slot>) {
        let _ = self.shared.free.push(slot);
    }

    #[cfg(feature = "test-hooks")]
    /// Slots neither free nor in the done queue: queued, being computed, or finished and
    /// held by the engine (tests pace a "host" with this).
    pub fn unfinished(&self) -> usize {
        self.slots - self.shared.free.len() - self.shared.done.len()
    }

    #[cfg(feature = "test-hooks")]
    /// Slots in the pool (a test checks the pool covers a reset with every frame in flight).
    pub fn slots(&self) -> usize {
        self.slots
    }

    #[cfg(feature = "test-hooks")]
    pub fn set_delay_us(&self, us: u32) {
        self.shared.delay_us.store(us, Ordering::Relaxed);
    }

    #[cfg(feature = "test-hooks")]
    pub fn inject_failure(&self) {
        self.shared.inject_failure.store(true, Ordering::Relaxed);
    }

    /// Whether the model failed while running: a flag, safe to read on the audio thread.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// The model's failure message (allocates: not for the audio thread).
    pub fn error(&self) -> Option<String> {
        if !self.failed() {
            return None;
        }
        self.shared.error.lock().ok().and_then(|e| e.clone())
    }

    #[cfg(feature = "test-hooks")]
    pub fn wakeups(&self) -> u64 {
        self.shared.wakeups.load(Ordering::Relaxed)
    }

    /// Whether the worker thread runs with real-time priority.
    pub fn is_realtime(&self) -> bool {
        self.shared.realtime.load(Ordering::Relaxed)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Asks for SCHED_FIFO (a modest priority, below typical audio callback threads) for the
/// calling thread. Best effort: without the privilege (no CAP_SYS_NICE, RLIMIT_RTPRIO 0) the
/// thread keeps normal scheduling and the engine's deadline and fallback still hold.
fn try_realtime_priority() -> bool {
    #[cfg(target_os = "linux")]
    unsafe {
        let lo = libc::sched_get_priority_min(libc::SCHED_FIFO);
        let hi = libc::sched_get_priority_max(libc::SCHED_FIFO);
        if lo < 0 || hi < lo {
            return false;
        }
        let param = libc::sched_param { sched_priority: (lo + (hi - lo) / 3).max(lo) };
        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0
    }
    #[cfg(not(target_os = "linux"))]
    false
}

fn run(shared: Arc<Shared>, model: Arc<Model>, channels: usize, warmed: Option<std::sync::mpsc::Sender<()>>) {
    crate::denormals::flush_to_zero();
    if std::env::var_os("CRN_NO_RT").is_none() {
        shared.realtime.store(try_realtime_priority(), Ordering::Relaxed);
    }
    let mut state = inference::State::new(&model, channels);
    if let Some(warmed) = warmed {
        // One frame of silence through the binding every frame will use; its estimate and
        // state are thrown away (`Worker::spawn`).
        let silence = vec![0.0; channels * MODEL_BINS];
        let mut est = silence.clone();
        let _ = state.run(&model, &silence, &mut est);
        state.clear();
        let _ = warmed.send(());
    }
    while !shared.stop.load(Ordering::Acquire) {
        let Some(mut slot) = shared.todo.pop() else {
            // Until a frame is submitted or the worker is dropped (both unpark it; an unpark
            // that comes first makes this return at once). No polling: a deactivated plugin's
            // worker costs nothing.
            std::thread::park();
            shared.wakeups.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let delay = shared.delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_micros(delay as u64));
        }
        if slot.reset {
            state.clear();
        }
        slot.ok = false;
        if !shared.failed.load(Ordering::Relaxed) {
            let Slot { mags, est, .. } = &mut *slot;
            let outcome = if shared.inject_failure.swap(false, Ordering::Relaxed) {
                Outcome::Failed("injected failure (test hook)".into())
            } else {
                state.run(&model, mags, est)
            };
            match outcome {
                Outcome::Ok => slot.ok = true,
                Outcome::Discarded => {}
                Outcome::Failed(e) => {
                    *shared.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    shared.failed.store(true, Ordering::Release);
                }
            }
        }
        let _ = shared.done.push(slot);
        shared.doorbell.ring();
    }
}
